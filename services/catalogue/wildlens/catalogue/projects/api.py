"""Projects."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from wildlens.catalogue.access import require_project
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.models import Deployment, Membership, Project
from wildlens.catalogue.projects.schemas import ProjectCreate, ProjectPublic, ProjectUpdate
from wildlens.catalogue.sequences.sequencing import regroup
from wildlens.common.db.pagination import page_by_id
from wildlens.common.errors import Invalid
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


@router.patch("/{project_id}", response_model=ProjectPublic)
async def update_project(
    project_id: uuid.UUID, body: ProjectUpdate, session: SessionDep, principal: PrincipalDep
) -> Project:
    """Change a project's description, licence or event settings (managers). A new event gap
    groups every deployment's media again, keeping the ids of events that stay."""
    project = await require_project(session, principal, project_id, "manager")
    changes = body.model_dump(exclude_unset=True)
    if None in changes.values():
        unset = sorted(k for k, v in changes.items() if v is None)
        raise Invalid(f"{', '.join(unset)} cannot be null; leave a field out to keep it")
    regrouping = "event_gap_s" in changes and changes["event_gap_s"] != project.event_gap_s
    for name, value in changes.items():
        setattr(project, name, value)
    session.add(project)
    await session.flush()
    if regrouping:
        deployments = await session.exec(
            select(Deployment.id).where(Deployment.project_id == project_id)
        )
        for deployment_id in deployments.all():
            await regroup(session, project_id, deployment_id)
    await session.refresh(project)
    return project


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
