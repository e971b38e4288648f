"""The statistics' two sources of detection records held against each other.

A statistic reads the maintained detection records where they answer its scope exactly, and
makes the records from the observations otherwise; for a scope both answer, both must give
the same counts, activity and first sightings, whatever the independence interval. The
records a refresh keeps must be those made afresh for the whole project, and each one's
``previous_epoch`` what a window over them all gives.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.platform import RunningPlatform
from wildlens.catalogue.models import DetectionRecord
from wildlens.catalogue.statistics.params import Scope
from wildlens.catalogue.statistics.repository import record_updates, records, summary_queries
from wildlens.catalogue.statistics.summaries import refresh
from wildlens.common.db import Database

# The project's default, none at all, and one that is not whole minutes.
INTERVALS = (1800, 0, 45)


async def _aggregates(session: Any, found: Any, interval_s: int) -> dict[str, Any]:
    return {
        "counts": sorted(await records.counts_by_location(session, found(), interval_s)),
        "activity": sorted(
            await records.activity_by_hour(session, found(), interval_s, one_offset=False)
        ),
        "first seen": await records.first_seen(session, found()),
    }


async def _stale_previous(connection: AsyncConnection, project_id: uuid.UUID) -> list[Any]:
    """The project's records whose ``previous_epoch`` is not the epoch of the record before
    them (same kind, location and taxon; by epoch, deployment and sequence)."""
    r = DetectionRecord.__table__.c  # type: ignore[attr-defined]
    before = func.lag(r.epoch).over(
        partition_by=(r.verified, r.location_id, r.taxon),
        order_by=(r.epoch, r.deployment_id, r.sequence),
    )
    query = select_columns(r.sequence, r.taxon, r.previous_epoch, before).where(
        r.project_id == project_id
    )
    rows = (await connection.execute(query)).all()
    return [row for row in rows if row[2] != row[3]]


async def _kept(connection: AsyncConnection, project_id: uuid.UUID) -> list[Any]:
    table = DetectionRecord.__table__  # type: ignore[attr-defined]
    columns = [c for c in table.c if c.name != "id"]
    query = select_columns(*columns).where(table.c.project_id == project_id)
    return sorted(tuple(str(v) for v in row) for row in (await connection.execute(query)).all())


async def _kept_as_made_afresh(db: Database, project_id: uuid.UUID) -> None:
    """The project's records as refreshes keep them are those a whole recompute makes (in a
    transaction rolled back after)."""
    async with db.engine.connect() as connection, connection.begin() as transaction:
        assert await _stale_previous(connection, project_id) == []
        kept = await _kept(connection, project_id)
        await record_updates.recompute_project(connection, project_id)
        assert await _kept(connection, project_id) == kept
        assert await _stale_previous(connection, project_id) == []
        await transaction.rollback()


async def records_agree(wl: RunningPlatform, project_id: str, scopes: list[Scope]) -> int:
    """For each scope the detection records answer, the same aggregates from them as from the
    observations; answers how many of the scopes they answer."""
    pid = uuid.UUID(project_id)
    db = wl.platform.contexts["catalogue"].db
    assert db is not None
    await refresh(db, pid)
    await _kept_as_made_afresh(db, pid)
    answered = 0
    async with db.transaction() as session:
        for s in scopes:
            if not await summary_queries.answers(session, pid, s):
                continue
            answered += 1
            for interval_s in INTERVALS:

                def stored(s: Scope = s) -> Any:
                    return summary_queries.stored_records(pid, s)

                def observed(s: Scope = s) -> Any:
                    return records.observed_records(pid, s)

                assert await _aggregates(session, stored, interval_s) == (
                    await _aggregates(session, observed, interval_s)
                ), (s, interval_s)
                # Read in one pass where each location has one clock offset: the same counts.
                one_pass = await records.activity_by_hour(
                    session, stored(), interval_s, one_offset=True
                )
                windows = await records.activity_by_hour(
                    session, stored(), interval_s, one_offset=False
                )
                assert sum(n for *_, n in one_pass) == sum(n for *_, n in windows), s
    return answered
