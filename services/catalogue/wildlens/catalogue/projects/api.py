"""Projects."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from wildlens.catalogue.access import require_project
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.projects.models import Membership, Project
from wildlens.catalogue.projects.schemas import ProjectCreate, ProjectPublic
from wildlens.common.db.pagination import page_by_id
from wildlens.common.http import ERROR_RESPONSES, Page, PrincipalDep

router = APIRouter(prefix="/v1/projects", tags=["projects"], responses=ERROR_RESPONSES)


@router.post("", status_code=201, response_model=ProjectPublic)
async def create_project(
    body: ProjectCreate, session: SessionDep, principal: PrincipalDep
) -> Project:
    """Create a project; its creator becomes its admin."""
    principal.require_user()
    project = Project(**body.model_dump(), created_by=principal.subject)
    session.add(project)
    await session.flush()
    session.add(Membership(project_id=project.id, subject=principal.subject, role="admin"))
    await session.flush()
    return project


@router.get("/{project_id}", response_model=ProjectPublic)
async def get_project(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Project:
    """One project."""
    return await require_project(session, principal, project_id)


@router.get("", response_model=Page[ProjectPublic])
async def list_projects(
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Page[ProjectPublic]:
    """Projects the caller belongs to."""
    principal.require_user()
    query = select(Project)
    if not principal.is_platform_admin:
        member_of = select(Membership.project_id).where(Membership.subject == principal.subject)
        # Exchanged tokens copy memberships, which are read live above instead.
        token_projects = (
            []
            if principal.roles_from_memberships
            else [uuid.UUID(p) for p in principal.roles if p != "*"]
        )
        query = query.where(col(Project.id).in_(member_of) | col(Project.id).in_(token_projects))
    rows, next_cursor = await page_by_id(
        session, query, col(Project.id), limit=limit, cursor=cursor
    )
    return Page(items=[ProjectPublic.model_validate(p) for p in rows], next_cursor=next_cursor)
