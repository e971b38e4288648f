"""The queries of a job table whose row is the queue.

The table has ``id``, ``status`` (``queued`` and ``running`` among its values), ``attempts``,
``lease_owner``, ``lease_expires_at`` and ``created_at``. A process takes a row by a
conditional update, so that whoever updates it first gets it and the others update nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.engine import CursorResult
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["claimable", "give_up", "hand_back", "rows_changed", "take", "update_held"]

JobTable = type[SQLModel]


def rows_changed(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _column(table: JobTable, name: str) -> Any:
    return getattr(table, name)


def _claimable(table: JobTable, now: datetime) -> ColumnElement[bool]:
    """Waiting, or held by a process whose lease has lapsed."""
    status = _column(table, "status")
    return or_(
        status == "queued",
        and_(status == "running", _column(table, "lease_expires_at") < now),
    )


async def claimable(
    session: AsyncSession, table: JobTable, now: datetime, *, limit: int
) -> list[tuple[uuid.UUID, int]]:
    """(id, attempts) of the oldest jobs a process may take."""
    query = (
        select(_column(table, "id"), _column(table, "attempts"))
        .where(_claimable(table, now))
        .order_by(_column(table, "created_at"))
        .limit(limit)
    )
    return [(job_id, attempts) for job_id, attempts in await session.exec(query)]


async def take(
    session: AsyncSession,
    table: JobTable,
    job_id: uuid.UUID,
    now: datetime,
    owner: str,
    lease_until: datetime,
    **values: object,
) -> bool:
    """Whether ``owner`` got the job (also setting ``values``)."""
    taken = await session.exec(
        update(table)
        .where(_column(table, "id") == job_id, _claimable(table, now))
        .values(
            status="running",
            attempts=_column(table, "attempts") + 1,
            lease_owner=owner,
            lease_expires_at=lease_until,
            **values,
        )
    )
    return rows_changed(taken) == 1


async def give_up(
    session: AsyncSession, table: JobTable, job_id: uuid.UUID, now: datetime, **values: object
) -> bool:
    """Fail the job with ``values``, unless another process took it meanwhile; whether it did."""
    failed = await session.exec(
        update(table)
        .where(_column(table, "id") == job_id, _claimable(table, now))
        .values(status="failed", **values)
    )
    return rows_changed(failed) == 1


async def update_held(
    session: AsyncSession,
    table: JobTable,
    job_id: uuid.UUID,
    owner: str,
    values: Mapping[str, object],
    *,
    running: bool = True,
) -> bool:
    """Set ``values`` on the job if ``owner`` still holds it (and, with ``running``, it is
    running); whether it did."""
    conditions = [_column(table, "id") == job_id, _column(table, "lease_owner") == owner]
    if running:
        conditions.append(_column(table, "status") == "running")
    changed = await session.exec(update(table).where(*conditions).values(**values))
    return rows_changed(changed) == 1


async def hand_back(session: AsyncSession, table: JobTable, owner: str, **values: object) -> None:
    """Put the jobs ``owner`` is running back in the queue (also setting ``values``)."""
    await session.exec(
        update(table)
        .where(_column(table, "status") == "running", _column(table, "lease_owner") == owner)
        .values(status="queued", lease_owner="", lease_expires_at=None, **values)
    )
