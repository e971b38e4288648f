"""Who may do what in a project: roles from the token, or from the catalogue's memberships
(a project created after the token was issued is known only here)."""

from __future__ import annotations

import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.projects.models import Membership, Project
from wildlens.common.auth import ROLES, Principal
from wildlens.common.errors import Forbidden, NotFound


async def project_role(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> str | None:
    token_role = principal.role_in(str(project_id))
    if principal.is_device:
        return None
    membership = (
        await session.exec(
            select(Membership).where(
                Membership.project_id == project_id, Membership.subject == principal.subject
            )
        )
    ).first()
    roles = [r for r in (token_role, membership.role if membership else None) if r]
    return max(roles, key=lambda r: ROLES[r]) if roles else None


async def require_project(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    at_least: str = "viewer",
) -> Project:
    """The project, if the caller holds ``at_least`` in it; 404 when they hold nothing."""
    if principal.is_device:
        raise Forbidden("a device token can only post media")
    project = await session.get(Project, project_id)
    role = await project_role(session, principal, project_id) if project else None
    if project is None or role is None:
        raise NotFound(f"project {project_id} not found")
    if ROLES[role] < ROLES[at_least]:
        raise Forbidden(f"this needs the {at_least} role in the project; you have {role}")
    return project
