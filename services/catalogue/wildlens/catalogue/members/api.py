"""``/v1/projects/{project_id}/members``: who belongs to a project, in which role."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from wildlens.catalogue.access import require_access
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.members.schemas import MemberPublic, MemberPut
from wildlens.catalogue.members.service import get_member, list_members, put_member, remove_member
from wildlens.common.auth import ROLES
from wildlens.common.errors import Forbidden
from wildlens.common.http import ERROR_RESPONSES, Page, PrincipalDep

router = APIRouter(
    prefix="/v1/projects/{project_id}/members", tags=["members"], responses=ERROR_RESPONSES
)

Subject = Annotated[str, Path(min_length=1, max_length=200, examples=["idp:3f2a9c"])]


@router.get("", response_model=Page[MemberPublic])
async def list_project_members(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Page[MemberPublic]:
    """The project's members with their roles and permissions (managers)."""
    await require_access(session, principal, project_id, "manager")
    rows, next_cursor = await list_members(session, project_id, limit, cursor)
    return Page(items=[MemberPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{subject}", response_model=MemberPublic)
async def get_project_member(
    project_id: uuid.UUID, subject: Subject, session: SessionDep, principal: PrincipalDep
) -> MemberPublic:
    """One member (managers; anyone for their own membership)."""
    access = await require_access(session, principal, project_id)
    if subject != principal.subject and ROLES[access.role] < ROLES["manager"]:
        raise Forbidden("this needs the manager role in the project")
    return MemberPublic.model_validate(await get_member(session, project_id, subject))


@router.put(
    "/{subject}",
    response_model=MemberPublic,
    responses={201: {"model": MemberPublic, "description": "The member was added."}},
)
async def put_project_member(
    project_id: uuid.UUID,
    subject: Subject,
    body: MemberPut,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> MemberPublic:
    """Add a member or change their role and permissions (admins; managers up to manager)."""
    access = await require_access(session, principal, project_id, "manager")
    member, created = await put_member(session, access, subject, body)
    if created:
        response.status_code = 201
    return MemberPublic.model_validate(member)


@router.delete("/{subject}", status_code=204)
async def delete_project_member(
    project_id: uuid.UUID, subject: Subject, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Remove a member (admins; managers up to manager; anyone may leave)."""
    access = await require_access(session, principal, project_id)
    await remove_member(session, access, subject)
    return Response(status_code=204)
