"""Bringing a project's review score parts up to date with its media and observations.

Triggers note each medium whose parts a change can change in ``review_score_changes``;
``refresh`` takes the project's notes, and computes those media's parts afresh, all in one
transaction. The queue refreshes before it reads, so it is never stale; ``ReviewRefresher``
refreshes in the background too, so that a reader seldom finds more than a few media to redo.

Refreshes of one project are serialised (an advisory lock on PostgreSQL; SQLite has one
writer anyway): two of them computing the same medium would both insert its rows.
"""

from __future__ import annotations

import uuid

import structlog

from wildlens.catalogue.observations.repository import review_scores
from wildlens.common.db import Database
from wildlens.common.jobs.periodic import Periodic

__all__ = ["ReviewRefresher", "refresh"]

log = structlog.get_logger(__name__)

# Beyond this many changed media, and a quarter of the rows the project has (an import, the
# first refresh), the project is computed in one pass over its observations.
WHOLE_PROJECT_AFTER = 2000


async def refresh(db: Database, project_id: uuid.UUID, *, wait: bool = True) -> int:
    """Compute the project's changed media afresh; answers how many there were.

    ``wait`` False gives up at once when another refresh of the project is running (the
    background refresher: that one will do the work).
    """
    async with db.engine.connect() as probe:
        # Most pages find nothing to do: one index probe, no lock, no transaction.
        if not await review_scores.has_changes(probe, project_id):
            return 0
    async with db.transaction() as session:
        connection = await session.connection()
        if not await review_scores.lock_refreshes(connection, project_id, wait=wait):
            return 0
        await review_scores.plan_for_refresh(connection)
        media = await review_scores.take_changes(connection, project_id)
        whole = None in media or (
            len(media) > WHOLE_PROJECT_AFTER
            and len(media) > await review_scores.scored(connection, project_id) // 4
        )
        if whole:
            await review_scores.analyze(connection)
            await review_scores.recompute_project(connection, project_id)
        elif media:
            ids = sorted(m for m in media if m is not None)
            await review_scores.recompute_media(connection, project_id, ids)
    return len(media)


class ReviewRefresher(Periodic):
    """Refreshes every project with changed media every ``interval_s`` seconds, in the
    background; a failed round is tried again (a page refreshes itself meanwhile)."""

    name = "review-scores"
    failure = "review scores refresh failed"

    async def round(self) -> None:
        async with self.db.engine.connect() as connection:
            projects = await review_scores.changed_projects(connection)
        for project_id in projects:
            await refresh(self.db, project_id, wait=False)
