"""Subject sets: created in a project by one caller, listed a page at a time."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import SubjectSet
from wildlens.citsci.subjects import repository
from wildlens.citsci.subjects.schemas import SubjectSetCreate
from wildlens.common.http.pagination import PageParams

__all__ = ["create_subject_set", "list_subject_sets"]


async def create_subject_set(
    session: AsyncSession, data: SubjectSetCreate, *, created_by: str
) -> SubjectSet:
    """A new subject set, flushed in the caller's transaction."""
    subject_set = SubjectSet(**data.model_dump(), created_by=created_by)
    return await repository.add_subject_set(session, subject_set)


async def list_subject_sets(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[SubjectSet], str | None]:
    """One page of the project's subject sets and the cursor of the next."""
    return await repository.page_subject_sets(session, project_id, page)
