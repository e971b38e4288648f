"""The rules for projects: a project's creator becomes its admin, a caller lists the projects
they belong to, and a new event gap groups the project's media into events again."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Membership, Project
from wildlens.catalogue.projects import repository
from wildlens.catalogue.projects.schemas import ProjectCreate, ProjectUpdate
from wildlens.catalogue.sequences.sequencing import regroup
from wildlens.common.auth import Principal
from wildlens.common.errors import Invalid
from wildlens.common.http.pagination import PageParams

__all__ = ["create_project", "list_projects", "update_project"]


async def create_project(session: AsyncSession, creator: str, body: ProjectCreate) -> Project:
    project = Project(**body.model_dump(), created_by=creator)
    session.add(project)
    await session.flush()
    session.add(Membership(project_id=project.id, subject=creator, role="admin"))
    await session.flush()
    return project


async def update_project(session: AsyncSession, project: Project, body: ProjectUpdate) -> Project:
    """Apply the fields given; a changed event gap regroups every deployment's media, keeping
    the ids of events that stay."""
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
        for deployment_id in await repository.deployment_ids(session, project.id):
            await regroup(session, project.id, deployment_id)
    await repository.refresh(session, project)
    return project


async def list_projects(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[Project], str | None]:
    """A page of the projects the caller belongs to (all of them for a platform admin)."""
    if principal.is_platform_admin:
        return await repository.projects_page(session, page, member=None, granted=[])
    # Exchanged tokens copy memberships, which are read live instead.
    granted = (
        []
        if principal.roles_from_memberships
        else [uuid.UUID(p) for p in principal.roles if p != "*"]
    )
    return await repository.projects_page(session, page, member=principal.subject, granted=granted)
