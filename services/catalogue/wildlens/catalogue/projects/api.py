"""Projects."""

from __future__ import annotations

from fastapi import APIRouter

from wildlens.catalogue.access import ManagerDep, ViewerDep
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.models import Project
from wildlens.catalogue.projects import service
from wildlens.catalogue.projects.schemas import ProjectCreate, ProjectPublic, ProjectUpdate
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep, PrincipalDep

router = APIRouter(prefix="/v1/projects", tags=["projects"], responses=ERROR_RESPONSES)


@router.post("", status_code=201, response_model=ProjectPublic)
async def create_project(
    body: ProjectCreate, session: SessionDep, principal: PrincipalDep
) -> Project:
    """Create a project; its creator becomes its admin."""
    principal.require_user()
    return await service.create_project(session, principal.subject, body)


@router.get("/{project_id}", response_model=ProjectPublic)
async def get_project(access: ViewerDep) -> Project:
    """One project."""
    return access.project


@router.patch("/{project_id}", response_model=ProjectPublic)
async def update_project(body: ProjectUpdate, session: SessionDep, access: ManagerDep) -> Project:
    """Change a project's description, licence or event settings (managers). A new event gap
    groups every deployment's media again, keeping the ids of events that stay."""
    return await service.update_project(session, access.project, body)


@router.get("", response_model=Page[ProjectPublic])
async def list_projects(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
) -> Page[ProjectPublic]:
    """Projects the caller belongs to."""
    principal.require_user()
    rows, next_cursor = await service.list_projects(session, principal, page)
    return Page(items=[ProjectPublic.model_validate(p) for p in rows], next_cursor=next_cursor)
