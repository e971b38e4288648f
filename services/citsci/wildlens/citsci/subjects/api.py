"""Subject sets."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import SubjectSet
from wildlens.citsci.subjects import service
from wildlens.citsci.subjects.schemas import SubjectSetCreate, SubjectSetPublic
from wildlens.common.http import (
    ERROR_RESPONSES,
    Page,
    PageDep,
    PrincipalDep,
    session_dependency,
)

router = APIRouter(prefix="/v1/citsci", tags=["citsci"], responses=ERROR_RESPONSES)
SessionDep = Annotated[AsyncSession, Depends(session_dependency("citsci"), scope="function")]

# The project is in the body or the query, not the path, and this service cannot read the
# catalogue's memberships: the caller's role is checked against its token in the route, after
# FastAPI has validated the request (a malformed one answers 422 whoever sends it).


@router.post("/subject-sets", status_code=201, response_model=SubjectSetPublic)
async def create_subject_set(
    body: SubjectSetCreate, session: SessionDep, principal: PrincipalDep
) -> SubjectSet:
    """Create a subject set in a project (managers)."""
    principal.require_user()
    principal.require(str(body.project_id), "manager")
    return await service.create_subject_set(session, body, created_by=principal.subject)


@router.get("/subject-sets", response_model=Page[SubjectSetPublic])
async def list_subject_sets(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
) -> Page[SubjectSetPublic]:
    """A project's subject sets."""
    principal.require_user()
    principal.require(str(project_id), "volunteer")
    rows, next_cursor = await service.list_subject_sets(session, project_id, page)
    return Page(items=[SubjectSetPublic.model_validate(r) for r in rows], next_cursor=next_cursor)
