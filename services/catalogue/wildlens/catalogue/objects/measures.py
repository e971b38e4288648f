"""A project's objects as per-sample statistics read them: each object's sample,
acquisition, process, depth, capture time, current observations and size features, with the
samples', acquisitions' and processes' own fields."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    Acquisition,
    Media,
    ObjectFeature,
    ObjectRecord,
    Observation,
    Process,
    Sample,
    Taxon,
)

__all__ = ["SIZE_FEATURES", "MeasuredObject", "ObjectSet", "measured_objects", "taxon_names"]

# The features a biovolume is computed from (EcoTaxa's names, in pixels).
SIZE_FEATURES = ("area", "major", "minor")


@dataclass
class MeasuredObject:
    media_id: uuid.UUID
    sample_id: uuid.UUID | None
    acquisition_id: uuid.UUID | None
    process_id: uuid.UUID | None
    depth_min: float | None
    depth_max: float | None
    captured_at: datetime | None
    observations: list[Observation] = field(default_factory=list)
    sizes: dict[str, float] = field(default_factory=dict)


@dataclass
class ObjectSet:
    objects: list[MeasuredObject]
    samples: dict[uuid.UUID, Sample]
    acquisitions: dict[uuid.UUID, Acquisition]
    processes: dict[uuid.UUID, Process]


async def measured_objects(
    session: AsyncSession,
    project_id: uuid.UUID,
    conditions: Sequence[ColumnElement[bool]] = (),
) -> ObjectSet:
    """The project's objects meeting ``conditions`` on ``Media`` (the caller's privacy, a
    time range), with every one of their observations."""
    rows = await session.exec(
        select(ObjectRecord, Media.captured_at)
        .join(Media, col(Media.id) == col(ObjectRecord.media_id))
        .where(col(ObjectRecord.project_id) == project_id, *conditions)
    )
    objects = {
        r.media_id: MeasuredObject(
            r.media_id,
            r.sample_id,
            r.acquisition_id,
            r.process_id,
            r.depth_min,
            r.depth_max,
            captured_at,
        )
        for r, captured_at in rows.all()
    }
    observed = await session.exec(
        select(Observation)
        .join(ObjectRecord, col(ObjectRecord.media_id) == col(Observation.media_id))
        .where(col(ObjectRecord.project_id) == project_id)
    )
    for o in observed.all():
        if o.media_id in objects:
            objects[o.media_id].observations.append(o)
    sizes = await session.exec(
        select(ObjectFeature).where(
            col(ObjectFeature.project_id) == project_id,
            col(ObjectFeature.name).in_(SIZE_FEATURES),
        )
    )
    for f in sizes.all():
        if f.media_id in objects:
            objects[f.media_id].sizes[f.name] = f.value
    samples = await session.exec(select(Sample).where(col(Sample.project_id) == project_id))
    acquisitions = await session.exec(
        select(Acquisition).where(col(Acquisition.project_id) == project_id)
    )
    processes = await session.exec(select(Process).where(col(Process.project_id) == project_id))
    return ObjectSet(
        list(objects.values()),
        {s.id: s for s in samples.all()},
        {a.id: a for a in acquisitions.all()},
        {p.id: p for p in processes.all()},
    )


async def taxon_names(session: AsyncSession, ids: set[uuid.UUID]) -> set[str]:
    """The scientific names of these taxa (labels without a taxon id match by name)."""
    rows = await session.exec(select(Taxon.scientific_name).where(col(Taxon.id).in_(list(ids))))
    return set(rows.all())
