"""The export jobs' queries: the job's row is the queue, taken and held by conditional
updates so that exactly one process works on a job at a time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.engine import CursorResult
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import ExportJob, Project

__all__ = [
    "claimable_jobs",
    "export_job",
    "give_up",
    "hand_back",
    "project",
    "take",
    "update_held",
]


def _rows(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Waiting, or held by a process whose lease has lapsed."""
    return or_(
        col(ExportJob.status) == "queued",
        and_(col(ExportJob.status) == "running", col(ExportJob.lease_expires_at) < now),
    )


async def export_job(session: AsyncSession, job_id: uuid.UUID) -> ExportJob | None:
    return await session.get(ExportJob, job_id)


async def project(session: AsyncSession, project_id: uuid.UUID) -> Project | None:
    return await session.get(Project, project_id)


async def claimable_jobs(
    session: AsyncSession, now: datetime, *, limit: int
) -> list[tuple[uuid.UUID, int]]:
    """(id, attempts) of the oldest jobs another process may take."""
    query = (
        select(ExportJob.id, ExportJob.attempts)
        .where(_claimable(now))
        .order_by(col(ExportJob.created_at))
        .limit(limit)
    )
    return [(job_id, attempts) for job_id, attempts in await session.exec(query)]


async def give_up(session: AsyncSession, job_id: uuid.UUID, now: datetime, error: str) -> None:
    """Fail the job, unless another process took it meanwhile."""
    await session.exec(
        update(ExportJob)
        .where(col(ExportJob.id) == job_id, _claimable(now))
        .values(status="failed", error=error, finished_at=now)
    )


async def take(
    session: AsyncSession, job_id: uuid.UUID, now: datetime, owner: str, lease_until: datetime
) -> bool:
    """Whether ``owner`` got the job: whoever updates the row first gets it, the others update
    nothing."""
    taken = await session.exec(
        update(ExportJob)
        .where(col(ExportJob.id) == job_id, _claimable(now))
        .values(
            status="running",
            progress=0.0,
            attempts=col(ExportJob.attempts) + 1,
            lease_owner=owner,
            lease_expires_at=lease_until,
        )
    )
    return _rows(taken) == 1


async def update_held(
    session: AsyncSession, job_id: uuid.UUID, owner: str, **values: object
) -> bool:
    """Change the job if ``owner`` still holds it; whether it did."""
    changed = await session.exec(
        update(ExportJob)
        .where(col(ExportJob.id) == job_id, col(ExportJob.lease_owner) == owner)
        .values(**values)
    )
    return _rows(changed) == 1


async def hand_back(session: AsyncSession, owner: str) -> None:
    """Put the jobs ``owner`` is running back in the queue."""
    await session.exec(
        update(ExportJob)
        .where(col(ExportJob.status) == "running", col(ExportJob.lease_owner) == owner)
        .values(status="queued", lease_owner="", lease_expires_at=None, progress=0.0)
    )
