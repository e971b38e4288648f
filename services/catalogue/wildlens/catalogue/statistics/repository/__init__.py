"""Every query of the statistics domain: what the scope names, the deployments and locations
it covers, and each aggregate from where it is cheapest.

An aggregate comes from the per-minute summaries (``summary_queries``) when they answer the
scope exactly (the usual case: whole minutes, an interval of a minute or more), else from the
records (``records``). Both give the same numbers; the summaries read a hundred thousand
minutes where the records read every observation of the project. ``summary_updates`` holds
the statements that bring the summaries up to date.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment, Location, Taxon
from wildlens.catalogue.statistics.params import Scope
from wildlens.catalogue.statistics.repository import records, summary_queries
from wildlens.catalogue.statistics.repository.records import aggregate_in_memory

__all__ = [
    "activity_by_hour",
    "aggregate_in_memory",
    "counts_by_location",
    "deployments_in_scope",
    "first_seen",
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


async def location_names(session: AsyncSession, project_id: uuid.UUID) -> dict[uuid.UUID, str]:
    query = select(Location.id, Location.name).where(Location.project_id == project_id)
    return dict((await session.exec(query)).all())


@asynccontextmanager
async def index_order(session: AsyncSession) -> AsyncIterator[None]:
    """Read the detection minutes in index order (PostgreSQL).

    Past some hundred thousand minutes the planner's estimates favour scanning the table and
    sorting it, which measures three to five times slower than the covering index it is
    built for; sorting is discouraged for these statements only.
    """
    connection = await session.connection()
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        await connection.execute(text("SET LOCAL enable_sort = off"))
    try:
        yield
    finally:
        if postgresql:
            await connection.execute(text("SET LOCAL enable_sort = on"))


async def counts_by_location(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> list[tuple[str, uuid.UUID, int, int, int]]:
    """(taxon, location id, independent detections, records, individuals)."""
    if summary_queries.covers(s, interval_s):
        async with index_order(session):
            return await summary_queries.counts_by_location(session, project_id, s, interval_s)
    return await records.counts_by_location(session, project_id, s, interval_s)


async def activity_by_hour(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> list[tuple[str, int, int]]:
    """(taxon, local hour, independent detections starting in it)."""
    if summary_queries.covers(s, interval_s):
        async with index_order(session):
            return await summary_queries.activity_by_hour(session, project_id, s, interval_s)
    return await records.activity_by_hour(session, project_id, s, interval_s)


async def first_seen(session: AsyncSession, project_id: uuid.UUID, s: Scope) -> dict[str, datetime]:
    """Each taxon's first record (to the second)."""
    if summary_queries.covers(s):
        return await summary_queries.first_seen(session, project_id, s)
    return await records.first_seen(session, project_id, s)


async def media_by_deployment(
    session: AsyncSession, project_id: uuid.UUID, s: Scope
) -> list[tuple[uuid.UUID, int, int]]:
    """(deployment, media, media with an animal); the summaries count media with any animal,
    so a scope of one taxon reads the records."""
    if s.taxon_id is None and summary_queries.covers(s):
        return await summary_queries.media_by_deployment(session, project_id, s)
    return await records.media_by_deployment(session, project_id, s)
