"""Single objects as imports write and exports read them: their rows, features, categories,
samples, acquisitions and processes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, exists
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange.repository.external_ids import CHUNK
from wildlens.catalogue.models import (
    Acquisition,
    Media,
    ObjectCategory,
    ObjectFeature,
    ObjectRecord,
    Observation,
    Process,
    Sample,
)

__all__ = [
    "drop_features",
    "has_other_media",
    "object_categories",
    "object_features",
    "object_records",
    "objects_of_project",
    "observations_of_objects",
    "project_groups",
]


async def object_categories(
    session: AsyncSession, project_id: uuid.UUID
) -> dict[str, ObjectCategory]:
    rows = await session.exec(select(ObjectCategory).where(ObjectCategory.project_id == project_id))
    return {c.name: c for c in rows.all()}


async def object_records(
    session: AsyncSession, media_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ObjectRecord]:
    found: dict[uuid.UUID, ObjectRecord] = {}
    for start in range(0, len(media_ids), CHUNK):
        chunk = media_ids[start : start + CHUNK]
        rows = await session.exec(select(ObjectRecord).where(col(ObjectRecord.media_id).in_(chunk)))
        found |= {r.media_id: r for r in rows.all()}
    return found


async def drop_features(session: AsyncSession, media_ids: Sequence[uuid.UUID]) -> None:
    for start in range(0, len(media_ids), CHUNK):
        chunk = media_ids[start : start + CHUNK]
        await session.exec(delete(ObjectFeature).where(col(ObjectFeature.media_id).in_(chunk)))


async def object_features(
    session: AsyncSession, media_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, float]]:
    """Each medium's features, by name (media without any are left out)."""
    found: dict[uuid.UUID, dict[str, float]] = {}
    for start in range(0, len(media_ids), CHUNK):
        chunk = media_ids[start : start + CHUNK]
        rows = await session.exec(
            select(ObjectFeature).where(col(ObjectFeature.media_id).in_(chunk))
        )
        for f in rows.all():
            found.setdefault(f.media_id, {})[f.name] = f.value
    return found


async def objects_of_project(
    session: AsyncSession, project_id: uuid.UUID
) -> list[tuple[Media, ObjectRecord]]:
    """The project's objects with their media, in the order of their ids."""
    rows = await session.exec(
        select(Media, ObjectRecord)
        .join(ObjectRecord, col(ObjectRecord.media_id) == col(Media.id))
        .where(Media.project_id == project_id)
        .order_by(col(Media.external_id), col(Media.id))
    )
    return list(rows.all())


async def observations_of_objects(
    session: AsyncSession, project_id: uuid.UUID
) -> dict[uuid.UUID, list[Observation]]:
    """The observations of the project's objects, by medium."""
    rows = await session.exec(
        select(Observation)
        .join(ObjectRecord, col(ObjectRecord.media_id) == col(Observation.media_id))
        .where(Observation.project_id == project_id)
    )
    found: dict[uuid.UUID, list[Observation]] = {}
    for o in rows.all():
        assert o.media_id is not None
        found.setdefault(o.media_id, []).append(o)
    return found


async def project_groups(
    session: AsyncSession, project_id: uuid.UUID
) -> tuple[dict[uuid.UUID, Sample], dict[uuid.UUID, Acquisition], dict[uuid.UUID, Process]]:
    samples = await session.exec(select(Sample).where(Sample.project_id == project_id))
    acquisitions = await session.exec(
        select(Acquisition).where(Acquisition.project_id == project_id)
    )
    processes = await session.exec(select(Process).where(Process.project_id == project_id))
    return (
        {s.id: s for s in samples.all()},
        {a.id: a for a in acquisitions.all()},
        {p.id: p for p in processes.all()},
    )


async def has_other_media(session: AsyncSession, project_id: uuid.UUID) -> bool:
    """Whether the project has media that are no objects (camera-trap photos, videos)."""
    other = exists().where(
        col(Media.project_id) == project_id,
        col(Media.id).not_in(select(ObjectRecord.media_id)),
    )
    return bool((await session.exec(select(other))).one())
