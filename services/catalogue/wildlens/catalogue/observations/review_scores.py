"""Bringing a project's review score parts up to date with its media and observations.

Triggers note each medium whose parts a change can change in ``review_score_changes``;
``refresh`` takes the project's notes, and computes those media's parts afresh, all in one
transaction. ``ReviewRefresher`` refreshes in the background, so that a reader seldom finds
more than a few media to redo.

The queue refreshes before it reads, unless a refresh of the project is already running, or
many media changed in a project whose queue has plenty to show without them: then it reads at
once. Under a stream of uploads and validations, five reviewers would otherwise queue behind
each other's refreshes, or each score the last seconds' uploads before answering, and every
moment a page waits is a moment the reviewer waits. A project with few scored media (a new
one, its first upload) is scored first, so that its first page is not empty. A page leaves
out the media whose notes are still waiting (their parts may be stale), so what it shows is
always scored as its explanations say; those media come back with the running refresh, or
the next one, within a round of ``ReviewRefresher``.

Refreshes of one project are serialised (an advisory lock on PostgreSQL; SQLite has one
writer anyway): two of them computing the same medium would both insert its rows.
"""

from __future__ import annotations

import uuid

import structlog

from wildlens.catalogue.observations.repository import review_scores
from wildlens.common.db import Database
from wildlens.common.jobs.periodic import Periodic

__all__ = ["ReviewRefresher", "refresh", "refresh_for_page"]

log = structlog.get_logger(__name__)

# Beyond this many changed media, and a quarter of the rows the project has (an import, the
# first refresh), the project is computed in one pass over its observations.
WHOLE_PROJECT_AFTER = 2000
# The most notes a page scores before it reads, in a project with at least PLENTY scored
# media; more are the background refresher's. At 20 uploads a second, each noted when
# recorded, analysed and labelled, a page found a hundred or more, and scoring them before
# answering doubled its time under load.
PAGE_REFRESHES_AT_MOST = 16
PLENTY = 500


async def refresh(db: Database, project_id: uuid.UUID, *, wait: bool = True) -> int | None:
    """Compute the project's changed media afresh; answers how many there were, or None when
    it gave up on another refresh of the project that was running.

    ``wait`` False gives up at once (a page, and the background refresher: the running one
    does the work).
    """
    async with db.engine.connect() as probe:
        # Most pages find nothing to do: one index probe, no lock, no transaction.
        if not await review_scores.has_changes(probe, project_id):
            return 0
    return await _refresh_noted(db, project_id, wait=wait)


async def _refresh_noted(db: Database, project_id: uuid.UUID, *, wait: bool) -> int | None:
    async with db.transaction() as session:
        connection = await session.connection()
        if not await review_scores.lock_refreshes(connection, project_id, wait=wait):
            return None
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


async def refresh_for_page(db: Database, project_id: uuid.UUID) -> None:
    """What a page of the queue refreshes before it reads: the changed media, unless another
    refresh holds the project, or more than ``PAGE_REFRESHES_AT_MOST`` changed in a project
    with ``PLENTY`` scored; in those cases the page reads without the media still noted. A
    note for the whole project (an import, a recompute) cannot be left out that way, so then
    the page waits for it."""
    async with db.engine.connect() as probe:
        noted = await review_scores.changes_up_to(probe, project_id, PAGE_REFRESHES_AT_MOST + 1)
        if not noted:
            return
        if (
            noted > PAGE_REFRESHES_AT_MOST
            and await review_scores.scored_up_to(probe, project_id, PLENTY) >= PLENTY
            and not await review_scores.whole_project_noted(probe, project_id)
        ):
            return  # a burst: the background refresher's
    if await _refresh_noted(db, project_id, wait=False) is not None:
        return
    async with db.engine.connect() as probe:
        whole = await review_scores.whole_project_noted(probe, project_id)
    if whole:
        await _refresh_noted(db, project_id, wait=True)


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
