"""Bringing a project's detection records and per-minute media summaries up to date with its
observations.

Triggers note each changed sequence in ``detection_record_changes`` and each changed
(deployment, minute) of media in ``summary_changes``; ``refresh`` takes the project's notes,
deletes the records of those sequences and the summaries of those minutes and recomputes them
from the observations, all in one transaction. A statistic refreshes before it reads, so it is
never stale; ``SummaryRefresher`` refreshes in the background too, so that the reader seldom
finds more than a few sequences to redo.

Refreshes of one project are serialised (an advisory lock on PostgreSQL; SQLite has one
writer anyway): two of them recomputing the same sequence would both insert its records.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

import structlog

from wildlens.catalogue.statistics.repository import (
    aggregate_in_memory,
    record_updates,
    summary_updates,
)
from wildlens.catalogue.statistics.repository.summary_updates import MinuteRange
from wildlens.common.db import Database
from wildlens.common.jobs.periodic import Periodic

__all__ = ["SummaryRefresher", "refresh", "tidy"]

log = structlog.get_logger(__name__)

# Beyond this many changed minutes (sequences), and a quarter of those the project has (an
# import, a first refresh), the project is recomputed in one pass over its observations,
# cheaper than thousands of small ranges (lookups); a busy consumer's changes to a large
# project are not.
WHOLE_PROJECT_AFTER = 2000


def minute_ranges(changes: Iterable[tuple[uuid.UUID, int | None]]) -> list[MinuteRange]:
    """Changed (deployment, minute) pairs as runs of consecutive minutes per deployment."""
    by_deployment: dict[uuid.UUID, set[int | None]] = defaultdict(set)
    for deployment_id, minute in changes:
        by_deployment[deployment_id].add(minute)
    ranges: list[MinuteRange] = []
    for deployment_id, minutes in by_deployment.items():
        if None in minutes:
            ranges.append(MinuteRange(deployment_id, None, None))
        run: list[int] = []
        for minute in sorted(m for m in minutes if m is not None):
            if run and minute != run[-1] + 1:
                ranges.append(MinuteRange(deployment_id, run[0], run[-1]))
                run = []
            run.append(minute)
        if run:
            ranges.append(MinuteRange(deployment_id, run[0], run[-1]))
    return ranges


async def refresh(db: Database, project_id: uuid.UUID, *, wait: bool = True) -> int:
    """Recompute the project's changed sequences and minutes; answers how many there were.

    ``wait`` False gives up at once when another refresh of the project is running (the
    background refresher: that one will do the work).
    """
    async with db.engine.connect() as probe:
        # Most statistics find nothing to do: two index probes, no lock, no transaction.
        if not (
            await record_updates.has_changes(probe, project_id)
            or await summary_updates.has_changes(probe, project_id)
        ):
            return 0
    async with db.transaction() as session:
        connection = await session.connection()
        if not await summary_updates.lock_refreshes(connection, project_id, wait=wait):
            return 0
        await aggregate_in_memory(session)
        await summary_updates.plan_each_refresh(connection)
        sequences = await record_updates.take_changes(connection, project_id)
        minutes = await summary_updates.take_changes(connection, project_id)
        whole_records = None in sequences or (
            len(sequences) > WHOLE_PROJECT_AFTER
            and len(sequences) > await record_updates.recorded(connection, project_id) // 4
        )
        whole_minutes = (
            len(minutes) > WHOLE_PROJECT_AFTER
            and len(minutes) > await summary_updates.summarised(connection, project_id) // 4
        )
        if whole_records or whole_minutes:
            await summary_updates.analyze(connection)
        if whole_records:
            await record_updates.recompute_project(connection, project_id)
        elif sequences:
            keys = sorted(k for k in sequences if k is not None)
            await record_updates.recompute_sequences(connection, project_id, keys)
        if whole_minutes:
            await summary_updates.recompute_project(connection, project_id)
        elif minutes:
            await summary_updates.recompute_ranges(connection, project_id, minute_ranges(minutes))
    changed = len(sequences) + len(minutes)
    if whole_records or len(sequences) > WHOLE_PROJECT_AFTER or len(minutes) > WHOLE_PROJECT_AFTER:
        await tidy(db)
    return changed


async def tidy(db: Database) -> None:
    """After many records or minutes were rewritten: fresh planner statistics, no dead rows,
    and a visibility map that lets statistics read from the indexes alone (what autovacuum
    would do a minute or more later)."""
    if db.dialect != "postgresql":
        return
    async with db.engine.connect() as connection:
        await summary_updates.vacuum(connection)


async def changed_projects(db: Database) -> list[uuid.UUID]:
    async with db.transaction() as session:
        connection = await session.connection()
        records = await record_updates.changed_projects(connection)
        minutes = await summary_updates.changed_projects(connection)
        return list(dict.fromkeys([*records, *minutes]))


class SummaryRefresher(Periodic):
    """Refreshes every project with changes every ``interval_s`` seconds, in the background; a
    failed round is tried again (a statistic refreshes itself meanwhile)."""

    name = "statistics-summaries"
    failure = "statistics summaries refresh failed"

    def __init__(self, db: Database, interval_s: float = 2.0) -> None:
        super().__init__(db, interval_s)
        # Sequences and minutes rewritten since the summaries were last vacuumed.
        self._since_tidy = 0

    async def round(self) -> None:
        for project_id in await changed_projects(self.db):
            self._since_tidy += await refresh(self.db, project_id, wait=False)
        if self._since_tidy > WHOLE_PROJECT_AFTER:
            self._since_tidy = 0
            await tidy(self.db)
