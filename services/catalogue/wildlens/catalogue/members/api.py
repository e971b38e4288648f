"""``/v1/projects/{project_id}/members``: who belongs to a project, in which role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from wildlens.catalogue.access import ManagerDep, ViewerDep
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.members.schemas import MemberPublic, MemberPut
from wildlens.catalogue.members.service import (
    list_members,
    put_member,
    read_member,
    remove_member,
)
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep, error_response
from wildlens.common.text import NameRule

router = APIRouter(
    prefix="/v1/projects/{project_id}/members", tags=["members"], responses=ERROR_RESPONSES
)

# Demoting or removing the project's only admin would leave nobody to manage it.
LAST_ADMIN = error_response("The project's last admin cannot be demoted or removed")

Subject = Annotated[str, NameRule(200, min_length=1), Path(examples=["idp:3f2a9c"])]


@router.get("", response_model=Page[MemberPublic])
async def list_project_members(
    session: SessionDep,
    access: ManagerDep,
    page: PageDep,
) -> Page[MemberPublic]:
    """The project's members with their roles and permissions (managers)."""
    rows, next_cursor = await list_members(session, access.project.id, page)
    return Page(items=[MemberPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{subject}", response_model=MemberPublic)
async def get_project_member(
    subject: Subject, session: SessionDep, access: ViewerDep
) -> MemberPublic:
    """One member (managers; anyone for their own membership)."""
    return MemberPublic.model_validate(await read_member(session, access, subject))


@router.put(
    "/{subject}",
    response_model=MemberPublic,
    responses={
        201: {"model": MemberPublic, "description": "The member was added."},
        409: LAST_ADMIN,
    },
)
async def put_project_member(
    subject: Subject,
    body: MemberPut,
    session: SessionDep,
    access: ManagerDep,
    response: Response,
) -> MemberPublic:
    """Add a member or change their role and permissions (admins; managers up to manager)."""
    member, created = await put_member(session, access, subject, body)
    if created:
        response.status_code = 201
    return MemberPublic.model_validate(member)


@router.delete("/{subject}", status_code=204, responses={409: LAST_ADMIN})
async def delete_project_member(
    subject: Subject, session: SessionDep, access: ViewerDep
) -> Response:
    """Remove a member (admins; managers up to manager; anyone may leave)."""
    await remove_member(session, access, subject)
    return Response(status_code=204)
