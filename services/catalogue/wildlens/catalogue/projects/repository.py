"""Queries on projects."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment, Membership, Project
from wildlens.common.db.pagination import page_by_id
from wildlens.common.http.pagination import PageParams

__all__ = ["deployment_ids", "projects_page", "refresh"]


async def projects_page(
    session: AsyncSession,
    page: PageParams,
    *,
    member: str | None,
    granted: list[uuid.UUID],
) -> tuple[list[Project], str | None]:
    """A page of projects: every one when ``member`` is None, else those ``member`` belongs to
    and those in ``granted``."""
    query = select(Project)
    if member is not None:
        member_of = select(Membership.project_id).where(Membership.subject == member)
        query = query.where(col(Project.id).in_(member_of) | col(Project.id).in_(granted))
    return await page_by_id(session, query, col(Project.id), page)


async def deployment_ids(session: AsyncSession, project_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.exec(select(Deployment.id).where(Deployment.project_id == project_id))
    return list(rows.all())


async def refresh(session: AsyncSession, project: Project) -> None:
    """Read the project again, with what the database computed on update."""
    await session.refresh(project)
