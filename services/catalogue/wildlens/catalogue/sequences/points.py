"""Reading a deployment for grouping: the project's gap, the deployment's lock, its timed
media in capture order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.sequences import repository
from wildlens.catalogue.sequences.grouping import Point

__all__ = ["PAGE", "gap_of", "lock", "points_of"]

# Media read per query while regrouping a deployment.
PAGE = 2000


async def gap_of(session: AsyncSession, project_id: uuid.UUID) -> timedelta:
    seconds = await repository.event_gap_s(session, project_id)
    return timedelta(seconds=seconds if seconds is not None else 60)


async def lock(session: AsyncSession, deployment_id: uuid.UUID) -> None:
    """Groups one deployment at a time: two replicas placing neighbouring media at once would
    each open an event where there must be one. (SQLite writes one transaction at a time
    anyway; PostgreSQL locks the deployment's row until the commit.)"""
    await repository.lock_deployment(session, deployment_id)


async def points_of(session: AsyncSession, deployment_id: uuid.UUID) -> AsyncIterator[Point]:
    """The deployment's timed media in capture order, a page per query."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        rows = await repository.timed_media(session, deployment_id, after, PAGE)
        for media_id, captured_at, event_id in rows:
            yield Point(media_id, captured_at, event_id)
        if len(rows) < PAGE:
            return
        after = (rows[-1][1], rows[-1][0])
