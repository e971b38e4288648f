"""The import jobs' queries: as for exports, the job's row is the queue, taken and held by
conditional updates so that exactly one process works on a job at a time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.engine import CursorResult
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import ImportJob
from wildlens.common.db.pagination import SortKey, page_by_keys, parse_datetime
from wildlens.common.http.pagination import PageParams

__all__ = [
    "claimable_imports",
    "expire_import",
    "expired_imports",
    "give_up_import",
    "hand_back_imports",
    "import_job",
    "import_jobs_page",
    "start_import",
    "take_import",
    "update_held_import",
]


def _rows(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Waiting, or held by a process whose lease has lapsed."""
    return or_(
        col(ImportJob.status) == "queued",
        and_(col(ImportJob.status) == "running", col(ImportJob.lease_expires_at) < now),
    )


async def import_job(
    session: AsyncSession, job_id: uuid.UUID, *, lock: bool = False
) -> ImportJob | None:
    return await session.get(ImportJob, job_id, with_for_update=lock)


async def import_jobs_page(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[ImportJob], str | None]:
    """The project's import jobs, newest first."""
    query = select(ImportJob).where(ImportJob.project_id == project_id)
    rows, next_cursor = await page_by_keys(
        session,
        query,
        [
            SortKey(col(ImportJob.created_at), parse_datetime, descending=True),
            SortKey(col(ImportJob.id), descending=True),
        ],
        lambda row: [row.created_at, row.id],
        page,
    )
    return list(rows), next_cursor


async def start_import(session: AsyncSession, job_id: uuid.UUID, now: datetime) -> bool:
    """Queue a job that is awaiting its files; whether this call did (a second start, or one
    racing the sweep, changes nothing)."""
    started = await session.exec(
        update(ImportJob)
        .where(col(ImportJob.id) == job_id, col(ImportJob.status) == "awaiting_files")
        .values(status="queued", started_at=now)
    )
    return _rows(started) == 1


async def expired_imports(
    session: AsyncSession, made_before: datetime, *, limit: int
) -> list[uuid.UUID]:
    """Jobs still awaiting their files that were made before ``made_before``."""
    query = (
        select(ImportJob.id)
        .where(col(ImportJob.status) == "awaiting_files", col(ImportJob.created_at) < made_before)
        .limit(limit)
    )
    return list(await session.exec(query))


async def expire_import(session: AsyncSession, job_id: uuid.UUID, now: datetime) -> bool:
    """Mark a job never started as expired; whether it still was awaiting its files."""
    expired = await session.exec(
        update(ImportJob)
        .where(col(ImportJob.id) == job_id, col(ImportJob.status) == "awaiting_files")
        .values(
            status="expired",
            error="the job was not started within a day; its files were removed",
            finished_at=now,
        )
    )
    return _rows(expired) == 1


async def claimable_imports(
    session: AsyncSession, now: datetime, *, limit: int
) -> list[tuple[uuid.UUID, int]]:
    """(id, attempts) of the oldest jobs a process may take."""
    query = (
        select(ImportJob.id, ImportJob.attempts)
        .where(_claimable(now))
        .order_by(col(ImportJob.created_at))
        .limit(limit)
    )
    return [(job_id, attempts) for job_id, attempts in await session.exec(query)]


async def give_up_import(
    session: AsyncSession, job_id: uuid.UUID, now: datetime, error: str
) -> bool:
    """Fail the job, unless another process took it meanwhile; whether it did."""
    failed = await session.exec(
        update(ImportJob)
        .where(col(ImportJob.id) == job_id, _claimable(now))
        .values(status="failed", error=error, finished_at=now, lease_owner="")
    )
    return _rows(failed) == 1


async def take_import(
    session: AsyncSession, job_id: uuid.UUID, now: datetime, owner: str, lease_until: datetime
) -> bool:
    """Whether ``owner`` got the job: whoever updates the row first gets it."""
    taken = await session.exec(
        update(ImportJob)
        .where(col(ImportJob.id) == job_id, _claimable(now))
        .values(
            status="running",
            attempts=col(ImportJob.attempts) + 1,
            lease_owner=owner,
            lease_expires_at=lease_until,
        )
    )
    return _rows(taken) == 1


async def update_held_import(
    session: AsyncSession, job_id: uuid.UUID, owner: str, **values: object
) -> bool:
    """Change the job if ``owner`` still holds it (and it is running); whether it did."""
    changed = await session.exec(
        update(ImportJob)
        .where(
            col(ImportJob.id) == job_id,
            col(ImportJob.lease_owner) == owner,
            col(ImportJob.status) == "running",
        )
        .values(**values)
    )
    return _rows(changed) == 1


async def hand_back_imports(session: AsyncSession, owner: str) -> None:
    """Put the jobs ``owner`` is running back in the queue."""
    await session.exec(
        update(ImportJob)
        .where(col(ImportJob.status) == "running", col(ImportJob.lease_owner) == owner)
        .values(status="queued", lease_owner="", lease_expires_at=None)
    )
