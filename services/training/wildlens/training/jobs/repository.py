"""Queries on training jobs, beyond taking and holding one (``wildlens.common.jobs``)."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db.pagination import page_by_id
from wildlens.common.http.pagination import PageParams
from wildlens.training.models import TrainingJob

__all__ = ["get", "page_jobs"]


async def get(
    session: AsyncSession, job_id: uuid.UUID, *, lock: bool = False
) -> TrainingJob | None:
    """The job; ``lock``: held until the transaction ends (a cancel and the worker take turns)."""
    return await session.get(TrainingJob, job_id, with_for_update=lock)


async def page_jobs(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams, *, status: str | None
) -> tuple[list[TrainingJob], str | None]:
    """One page of a project's jobs by id, of ``status`` where given."""
    query = select(TrainingJob).where(TrainingJob.project_id == project_id)
    if status is not None:
        query = query.where(TrainingJob.status == status)
    return await page_by_id(session, query, col(TrainingJob.id), page)
