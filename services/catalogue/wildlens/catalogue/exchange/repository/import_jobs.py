"""The import jobs' queries, beyond taking and holding a job (``wildlens.common.jobs``):
listing, starting and expiring jobs."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import ImportJob
from wildlens.common.db.pagination import SortKey, page_by_keys, parse_datetime
from wildlens.common.http.pagination import PageParams
from wildlens.common.jobs import queries as queue

__all__ = [
    "expire_import",
    "expired_imports",
    "import_job",
    "import_jobs_page",
    "start_import",
]


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
    return queue.rows_changed(started) == 1


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
    return queue.rows_changed(expired) == 1
