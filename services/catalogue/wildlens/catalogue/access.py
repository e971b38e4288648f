"""Who may do what in a project: roles from the token, or from the catalogue's memberships
(a project created after the token was issued is known only here).

Tokens from the exchange carry a copy of the caller's memberships; here the live memberships
count instead, so that adding, demoting or removing a member takes effect in the catalogue at
once (other services see it with the member's next token). Tokens minted directly (``wildlens
token``, platform admins) are explicit grants and count as well.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.models import Membership, Project
from wildlens.common.auth import ROLES, Principal
from wildlens.common.errors import Forbidden, NotFound
from wildlens.common.http import PrincipalDep

PROJECT_PATH = "/v1/projects/{project_id}"


@dataclass(frozen=True)
class ProjectAccess:
    project: Project
    # The caller with its role and permissions in this project as the catalogue knows them
    # now; ``principal.has_permission(str(project.id), ...)`` is the check to use.
    principal: Principal
    role: str


async def membership(
    session: AsyncSession, project_id: uuid.UUID, subject: str
) -> Membership | None:
    query = select(Membership).where(
        Membership.project_id == project_id, Membership.subject == subject
    )
    return (await session.exec(query)).first()


async def project_principal(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> Principal:
    """``principal`` with its role and permissions in the project taken from the membership
    table (and, for directly minted tokens, the higher of that and the token's grant)."""
    if principal.is_device or principal.is_platform_admin:
        return principal
    key = str(project_id)
    member = await membership(session, project_id, principal.subject)
    roles: list[str] = []
    permissions: set[str] = set()
    if not principal.roles_from_memberships:
        if key in principal.roles:
            roles.append(principal.roles[key])
        permissions.update(principal.permissions.get(key, []))
    if member is not None:
        roles.append(member.role)
        permissions.update(member.permissions)
    role = max(roles, key=lambda r: ROLES[r]) if roles else None
    return principal.in_project(key, role, permissions)


async def project_role(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> str | None:
    if principal.is_device:
        return None
    return (await project_principal(session, principal, project_id)).role_in(str(project_id))


async def require_access(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    at_least: str = "viewer",
) -> ProjectAccess:
    """The project and the caller's standing in it, if it holds ``at_least``; 404 when it holds
    nothing there, so that other projects stay invisible."""
    if principal.is_device:
        raise Forbidden("a device token can only post media")
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} not found")
    effective = await project_principal(session, principal, project_id)
    role = effective.role_in(str(project_id))
    if role is None:
        raise NotFound(f"project {project_id} not found")
    if ROLES[role] < ROLES[at_least]:
        raise Forbidden(f"this needs the {at_least} role in the project; you have {role}")
    return ProjectAccess(project=project, principal=effective, role=role)


async def require_project(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    at_least: str = "viewer",
) -> Project:
    """The project, if the caller holds ``at_least`` in it; 404 when they hold nothing."""
    return (await require_access(session, principal, project_id, at_least)).project


async def _project_gate(request: Request, session: SessionDep, principal: PrincipalDep) -> None:
    # The route's own dependencies share this session (FastAPI resolves a dependency once per
    # request), so the check runs in the request's own transaction.
    raw = request.path_params.get("project_id")
    if raw is None:
        return
    try:
        project_id = uuid.UUID(str(raw))
    except ValueError:
        # Not an id at all: the route's own validation answers 422.
        return
    await require_access(session, principal, project_id)


def _at_least(role: str) -> Callable[..., Awaitable[ProjectAccess]]:
    async def dependency(
        project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
    ) -> ProjectAccess:
        return await require_access(session, principal, project_id, role)

    dependency.__name__ = f"{role}_access"
    return dependency


# The caller's standing in the path's project, for routes under ``/v1/projects/{project_id}``:
# declared as a parameter, the check runs before the body is read, so a caller without the
# role hears so first (403; 404 where they hold nothing in the project).
ViewerDep = Annotated[ProjectAccess, Depends(_at_least("viewer"))]
VolunteerDep = Annotated[ProjectAccess, Depends(_at_least("volunteer"))]
AnnotatorDep = Annotated[ProjectAccess, Depends(_at_least("annotator"))]
ManagerDep = Annotated[ProjectAccess, Depends(_at_least("manager"))]
AdminDep = Annotated[ProjectAccess, Depends(_at_least("admin"))]


def scoped_to_projects(routers: Iterable[APIRouter]) -> list[APIRouter]:
    """The routers, those serving project paths made to check the caller first.

    FastAPI validates a request's query and body before the route's code runs, so a check made
    only there would answer an outsider or a device token 422 for a malformed request. As a
    dependency it comes first: 401, 403 or 404 whatever was sent, and the route's own check
    (for the role it needs) follows. Every route of such a router needs a token; routes that
    must not (``/v1/auth``) belong in a router of their own.
    """
    scoped = []
    for router in routers:
        if any(getattr(r, "path", "").startswith(PROJECT_PATH) for r in router.routes):
            gated = APIRouter(dependencies=[Depends(_project_gate)])
            gated.include_router(router)
            scoped.append(gated)
        else:
            scoped.append(router)
    return scoped
