"""The export jobs' queries, beyond taking and holding a job (``wildlens.common.jobs``): the
job and its project, as the export reads them."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import ExportJob, Project

__all__ = [
    "export_job",
    "project",
]


async def export_job(session: AsyncSession, job_id: uuid.UUID) -> ExportJob | None:
    return await session.get(ExportJob, job_id)


async def project(session: AsyncSession, project_id: uuid.UUID) -> Project | None:
    return await session.get(Project, project_id)
