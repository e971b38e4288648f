"""Subject sets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.subjects.models import SubjectSet
from wildlens.common.db.pagination import page_by_id
from wildlens.common.http import (
    ERROR_RESPONSES,
    Page,
    PrincipalDep,
    session_dependency,
)

router = APIRouter(prefix="/v1/citsci", tags=["citsci"], responses=ERROR_RESPONSES)
SessionDep = Annotated[AsyncSession, Depends(session_dependency("citsci"), scope="function")]


class SubjectSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    destination: Literal["builtin", "zooniverse"] = "builtin"


class SubjectSetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    destination: str
    created_by: str
    created_at: datetime


@router.post("/subject-sets", status_code=201, response_model=SubjectSetPublic)
async def create_subject_set(
    body: SubjectSetCreate, session: SessionDep, principal: PrincipalDep
) -> SubjectSet:
    """Create a subject set in a project (managers)."""
    principal.require_user()
    principal.require(str(body.project_id), "manager")
    subject_set = SubjectSet(**body.model_dump(), created_by=principal.subject)
    session.add(subject_set)
    await session.flush()
    return subject_set


@router.get("/subject-sets", response_model=Page[SubjectSetPublic])
async def list_subject_sets(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Page[SubjectSetPublic]:
    """A project's subject sets."""
    principal.require_user()
    principal.require(str(project_id), "volunteer")
    query = select(SubjectSet).where(SubjectSet.project_id == project_id)
    rows, next_cursor = await page_by_id(
        session, query, col(SubjectSet.id), limit=limit, cursor=cursor
    )
    return Page(items=[SubjectSetPublic.model_validate(r) for r in rows], next_cursor=next_cursor)
