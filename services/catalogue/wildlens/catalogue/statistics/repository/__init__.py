"""Every query of the statistics domain: what the scope names, the deployments and locations
it covers, and each aggregate from where it is cheapest.

Detections, individuals and first sightings are aggregated from detection records: each
animal counts once per sequence (``records.COUNTING_RULE``). The records come from the
maintained detection records (``summary_queries.stored_records``) when those answer the scope
exactly, else they are made from the observations (``records.observed_records``); both give
the same rows, the first reading a row per record where the second reads every observation.
The detection rate comes from the per-minute media summaries (``summary_queries``) when they
answer the scope exactly (whole minutes, no taxon), else from the media. ``summary_updates``
and ``record_updates`` hold the statements that bring both up to date.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment, Location, ObjectRecord, Taxon
from wildlens.catalogue.statistics.params import Scope
from wildlens.catalogue.statistics.repository import records, summary_queries
from wildlens.catalogue.statistics.repository.records import COUNTING_RULE, aggregate_in_memory

__all__ = [
    "COUNTING_RULE",
    "activity_by_hour",
    "aggregate_in_memory",
    "ancestors",
    "counts_by_location",
    "deployments_in_scope",
    "first_seen",
    "has_objects",
    "location_names",
    "media_by_deployment",
    "project_deployments",
    "project_locations",
    "taxon_exists",
]


async def project_locations(
    session: AsyncSession, project_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``ids`` that are locations of the project."""
    query = select(Location.id).where(
        Location.project_id == project_id, col(Location.id).in_(list(ids))
    )
    return set((await session.exec(query)).all())


async def project_deployments(
    session: AsyncSession, project_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``ids`` that are deployments of the project."""
    query = select(Deployment.id).where(
        Deployment.project_id == project_id, col(Deployment.id).in_(list(ids))
    )
    return set((await session.exec(query)).all())


async def has_objects(session: AsyncSession, project_id: uuid.UUID) -> bool:
    """Whether the project holds any single object (an imported vignette)."""
    query = select(ObjectRecord.media_id).where(ObjectRecord.project_id == project_id).limit(1)
    return (await session.exec(query)).first() is not None


async def taxon_exists(session: AsyncSession, taxon_id: uuid.UUID) -> bool:
    return await session.get(Taxon, taxon_id) is not None


async def deployments_in_scope(
    session: AsyncSession, project_id: uuid.UUID, s: Scope
) -> list[Deployment]:
    """The project's deployments at the scope's locations and among its deployments, by start."""
    query = select(Deployment).where(Deployment.project_id == project_id)
    if s.location_ids:
        query = query.where(col(Deployment.location_id).in_(s.location_ids))
    if s.deployment_ids:
        query = query.where(col(Deployment.id).in_(s.deployment_ids))
    return list((await session.exec(query.order_by(col(Deployment.start)))).all())


def _name_ancestors(name: str) -> set[str]:
    """What a scientific name itself says is above it: "Ardea cinerea" is of the genus Ardea
    (for names the taxon tree does not hold)."""
    words = name.split()
    return {" ".join(words[:n]) for n in range(1, len(words))}


async def ancestors(session: AsyncSession, names: Collection[str]) -> dict[str, set[str]]:
    """Each name's coarser taxa (names): its ancestors in the taxon tree where the tree holds
    the name, and the genus (species) a binomial (trinomial) names in any case."""
    found: dict[str, set[str]] = {n: _name_ancestors(n) for n in names}
    if not names:
        return found
    rows = (
        await session.exec(
            select(Taxon.scientific_name, Taxon.parent_id).where(
                col(Taxon.scientific_name).in_(list(names))
            )
        )
    ).all()
    # (name the chain started from, parent id still to read), one tree level per query.
    pending = [(name, parent) for name, parent in rows if parent is not None]
    visited: set[uuid.UUID] = set()
    while pending:
        ids = {p for _, p in pending} - visited
        visited |= ids
        parents = {
            i: (n, p)
            for i, n, p in (
                await session.exec(
                    select(Taxon.id, Taxon.scientific_name, Taxon.parent_id).where(
                        col(Taxon.id).in_(list(ids))
                    )
                )
            ).all()
        }
        following: list[tuple[str, uuid.UUID]] = []
        for name, parent_id in pending:
            if parent_id not in parents:
                continue
            parent_name, grandparent = parents[parent_id]
            found[name].add(parent_name)
            if grandparent is not None and grandparent not in visited:
                following.append((name, grandparent))
        pending = following
    return found


async def location_names(session: AsyncSession, project_id: uuid.UUID) -> dict[uuid.UUID, str]:
    query = select(Location.id, Location.name).where(Location.project_id == project_id)
    return dict((await session.exec(query)).all())


async def _records(session: AsyncSession, project_id: uuid.UUID, s: Scope) -> Any:
    """The scope's records, from the detection records where they answer it exactly; else (a
    period that cuts a sequence, or bounds inside a second; a taxon filter that would take
    part of a record) from the observations."""
    if await summary_queries.answers(session, project_id, s):
        return summary_queries.stored_records(project_id, s)
    return records.observed_records(project_id, s)


async def counts_by_location(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> list[tuple[str, uuid.UUID, int, int, int]]:
    """(taxon, location id, independent detections, records, individuals)."""
    found = await _records(session, project_id, s)
    return await records.counts_by_location(session, found, interval_s)


async def _one_offset_per_location(session: AsyncSession, project_id: uuid.UUID, s: Scope) -> bool:
    """Whether the cameras at each of the scope's locations share one clock offset (written
    alike): then a detection's earliest local time is its first record's, which the activity
    reads in one pass."""
    query = (
        select(Deployment.location_id)
        .where(Deployment.project_id == project_id)
        .group_by(col(Deployment.location_id))
        .having(func.count(func.distinct(col(Deployment.utc_offset))) > 1)
    )
    if s.location_ids:
        query = query.where(col(Deployment.location_id).in_(s.location_ids))
    if s.deployment_ids:
        query = query.where(col(Deployment.id).in_(s.deployment_ids))
    return (await session.exec(query.limit(1))).first() is None


async def activity_by_hour(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> list[tuple[str, int, int]]:
    """(taxon, local hour, independent detections starting in it)."""
    found = await _records(session, project_id, s)
    one_offset = await _one_offset_per_location(session, project_id, s)
    return await records.activity_by_hour(session, found, interval_s, one_offset=one_offset)


async def first_seen(session: AsyncSession, project_id: uuid.UUID, s: Scope) -> dict[str, datetime]:
    """Each taxon's first record (to the second)."""
    return await records.first_seen(session, await _records(session, project_id, s))


async def media_by_deployment(
    session: AsyncSession, project_id: uuid.UUID, s: Scope
) -> list[tuple[uuid.UUID, int, int]]:
    """(deployment, media, media with an animal); the summaries count media with any animal,
    so a scope of one taxon reads the records."""
    if s.taxon_id is None and summary_queries.covers(s):
        return await summary_queries.media_by_deployment(session, project_id, s)
    return await records.media_by_deployment(session, project_id, s)
