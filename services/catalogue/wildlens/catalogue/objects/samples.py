"""A project's samples as reads need them: each with its acquisitions, the processes that cut
its objects, its objects counted and its depth range; and the samples whose place is
sensitive."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    Acquisition,
    Media,
    ObjectRecord,
    Observation,
    Process,
    Sample,
)
from wildlens.common.db.pagination import SortKey, page_by_keys, parse_str
from wildlens.common.http.pagination import PageParams

__all__ = ["project_sample", "sample_rows", "samples_page", "sensitive_samples"]


async def sensitive_samples(
    session: AsyncSession, project_id: uuid.UUID, sensitive: ColumnElement[bool]
) -> set[uuid.UUID]:
    """The samples with an observation meeting ``sensitive`` (a privacy view's condition on
    ``Observation``): where a sensitive taxon was seen."""
    rows = await session.exec(
        select(ObjectRecord.sample_id)
        .join(Observation, col(Observation.media_id) == col(ObjectRecord.media_id))
        .where(
            col(ObjectRecord.project_id) == project_id,
            col(ObjectRecord.sample_id).is_not(None),
            sensitive,
        )
        .distinct()
    )
    return {r for r in rows.all() if r is not None}


async def sample_rows(
    session: AsyncSession,
    samples: list[Sample],
    visible: list[ColumnElement[bool]],
) -> dict[uuid.UUID, dict[str, Any]]:
    """Each sample's acquisitions, processes, object counts and depth range, by sample id."""
    ids = [s.id for s in samples]
    found: dict[uuid.UUID, dict[str, Any]] = {
        i: {"acquisitions": [], "processes": [], "objects": 0, "depth": (None, None)} for i in ids
    }
    if not ids:
        return found
    acquisitions = await session.exec(
        select(Acquisition)
        .where(col(Acquisition.sample_id).in_(ids))
        .order_by(col(Acquisition.external_id))
    )
    per_acquisition: Counter[uuid.UUID | None] = Counter()
    processes: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    # Six columns: more than ``select``'s typed overloads spell out.
    columns: list[Any] = [
        ObjectRecord.sample_id,
        ObjectRecord.acquisition_id,
        ObjectRecord.process_id,
        func.count(),
        func.min(ObjectRecord.depth_min),
        func.max(ObjectRecord.depth_max),
    ]
    rows = await session.exec(
        select(*columns)
        .join(Media, col(Media.id) == col(ObjectRecord.media_id))
        .where(col(ObjectRecord.sample_id).in_(ids), *visible)
        .group_by(
            col(ObjectRecord.sample_id),
            col(ObjectRecord.acquisition_id),
            col(ObjectRecord.process_id),
        )
    )
    for sample_id, acquisition_id, process_id, n, low, high in rows.all():
        entry = found[sample_id]
        entry["objects"] += n
        per_acquisition[acquisition_id] += n
        lo, hi = entry["depth"]
        entry["depth"] = (
            low if lo is None else (lo if low is None else min(lo, low)),
            high if hi is None else (hi if high is None else max(hi, high)),
        )
        if process_id is not None:
            processes[sample_id].add(process_id)
    for a in acquisitions.all():
        assert a.sample_id is not None
        found[a.sample_id]["acquisitions"].append((a, per_acquisition[a.id]))
    wanted = set().union(*processes.values()) if processes else set()
    if wanted:
        named = await session.exec(select(Process).where(col(Process.id).in_(list(wanted))))
        by_id = {p.id: p for p in named.all()}
        for sample_id, process_ids in processes.items():
            found[sample_id]["processes"] = sorted(
                (by_id[p] for p in process_ids), key=lambda p: p.external_id
            )
    return found


async def samples_page(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[Sample], str | None]:
    """The project's samples in the order of their ids (``sample_id``), then by id."""
    query = select(Sample).where(col(Sample.project_id) == project_id)
    keys = [SortKey(col(Sample.external_id), parse_str), SortKey(col(Sample.id))]
    rows, next_cursor = await page_by_keys(
        session, query, keys, lambda s: [s.external_id, s.id], page
    )
    return list(rows), next_cursor


async def project_sample(
    session: AsyncSession, project_id: uuid.UUID, sample_id: uuid.UUID
) -> Sample | None:
    sample = await session.get(Sample, sample_id)
    return sample if sample is not None and sample.project_id == project_id else None
