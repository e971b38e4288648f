"""``POST /v1/projects/{project_id}/join``: anyone signed in joins a project open to
volunteers. Outside the project gate, which would refuse a caller who is not a member yet."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter

from wildlens.catalogue.auth.exchange import membership_token
from wildlens.catalogue.deps import IssuerDep, SessionDep, SettingsDep
from wildlens.catalogue.members.schemas import JoinedProject
from wildlens.catalogue.members.service import join_as_volunteer
from wildlens.common.errors import Unavailable
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep

router = APIRouter(prefix="/v1/projects", tags=["members"], responses=ERROR_RESPONSES)


@router.post("/{project_id}/join", response_model=JoinedProject)
async def join_project(
    project_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    issuer: IssuerDep,
    principal: PrincipalDep,
) -> JoinedProject:
    """Join a project open to volunteers as a volunteer; a member with a higher role keeps it
    and joining again changes nothing. Answers a token carrying the new role, which expires
    with the caller's (anyone signed in)."""
    role, joined = await join_as_volunteer(session, principal, project_id)
    # The new token expires with the one the caller came with, so that joining never
    # prolongs a session (only the identity provider's token exchange does).
    ttl_s = settings.auth.token_ttl_s
    if principal.expires_at is not None:
        ttl_s = max(1, min(ttl_s, principal.expires_at - int(time.time())))
    if principal.roles_from_memberships:
        token = await membership_token(settings, issuer, session, principal.subject, ttl_s=ttl_s)
    else:
        # A token minted with its own roles (scoped to some projects, say) gets the same roles
        # and this one, never every membership of its subject.
        if issuer is None:
            raise Unavailable("this catalogue instance has no signing key configured")
        token = issuer.user_token(
            principal.subject,
            {**principal.roles, str(project_id): role},
            permissions=principal.permissions,
            ttl_s=ttl_s,
        )
    return JoinedProject(
        project_id=project_id,
        subject=principal.subject,
        role=role,
        joined=joined,
        access_token=token,
        expires_in=ttl_s,
    )
