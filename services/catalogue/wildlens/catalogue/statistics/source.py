"""Where each aggregate comes from: the per-minute summaries when they answer the scope
exactly (the usual case: whole minutes, an interval of a minute or more), else the records.

Both give the same numbers; the summaries read a hundred thousand minutes where the records
read every observation of the project.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.statistics import records, summary_queries
from wildlens.catalogue.statistics.params import Scope

__all__ = ["activity_by_hour", "counts_by_location", "first_seen", "media_by_deployment"]


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
