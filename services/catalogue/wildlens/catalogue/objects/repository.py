"""A page of media's object rows and features, read in one query each."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    Acquisition,
    ObjectCategory,
    ObjectFeature,
    ObjectRecord,
    Process,
    Sample,
)
from wildlens.catalogue.objects.schemas import ObjectSummary

__all__ = ["features_of", "objects_of"]


async def features_of(
    session: AsyncSession, media_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, float]]:
    """Each medium's features, by name (media without any left out)."""
    if not media_ids:
        return {}
    rows = await session.exec(
        select(ObjectFeature).where(col(ObjectFeature.media_id).in_(list(media_ids)))
    )
    found: dict[uuid.UUID, dict[str, float]] = {}
    for feature in rows.all():
        found.setdefault(feature.media_id, {})[feature.name] = feature.value
    return found


async def objects_of(
    session: AsyncSession, media_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ObjectSummary]:
    """Each medium's object row with its sample's, acquisition's and process's ids (media
    that are no objects left out)."""
    if not media_ids:
        return {}
    rows = await session.exec(
        select(ObjectRecord, Sample.external_id, Acquisition.external_id, Process.external_id)
        .join(Sample, col(Sample.id) == col(ObjectRecord.sample_id), isouter=True)
        .join(Acquisition, col(Acquisition.id) == col(ObjectRecord.acquisition_id), isouter=True)
        .join(Process, col(Process.id) == col(ObjectRecord.process_id), isouter=True)
        .where(col(ObjectRecord.media_id).in_(list(media_ids)))
    )
    found = list(rows.all())
    # The categories the file sorted them into that are no taxa.
    categories = {(r.project_id, r.category) for r, *_ in found if r.category}
    morphological: set[tuple[uuid.UUID, str]] = set()
    if categories:
        named = await session.exec(
            select(ObjectCategory.project_id, ObjectCategory.name).where(
                col(ObjectCategory.morphological),
                col(ObjectCategory.name).in_([name for _, name in categories]),
            )
        )
        morphological = {(pid, name) for pid, name in named.all()} & categories
    return {
        record.media_id: ObjectSummary(
            sample=sample,
            acquisition=acquisition,
            process=process,
            depth_min=record.depth_min,
            depth_max=record.depth_max,
            category=record.category,
            morphological=(record.project_id, record.category) in morphological,
        )
        for record, sample, acquisition, process in found
    }
