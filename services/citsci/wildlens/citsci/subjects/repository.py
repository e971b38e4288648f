"""Queries on subject sets."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import SubjectSet
from wildlens.common.db.pagination import page_by_id
from wildlens.common.http.pagination import PageParams

__all__ = ["add_subject_set", "page_subject_sets"]


async def add_subject_set(session: AsyncSession, subject_set: SubjectSet) -> SubjectSet:
    """Stage a new subject set; flushed, so that its id and defaults are set."""
    session.add(subject_set)
    await session.flush()
    return subject_set


async def page_subject_sets(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[SubjectSet], str | None]:
    """One page of a project's subject sets, by id."""
    query = select(SubjectSet).where(SubjectSet.project_id == project_id)
    return await page_by_id(session, query, col(SubjectSet.id), page)
