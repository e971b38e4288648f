"""Changing memberships, under the rules that keep a project governable: managers manage up to
their own rank and grant only permissions they hold, and a project always keeps an admin."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess, project_principal
from wildlens.catalogue.members import repository
from wildlens.catalogue.members.schemas import MemberPut
from wildlens.catalogue.models import Membership, Project
from wildlens.common.auth import ROLES, Principal
from wildlens.common.errors import Conflict, Forbidden, Invalid, NotFound
from wildlens.common.http.pagination import PageParams

__all__ = [
    "get_member",
    "join_as_volunteer",
    "list_members",
    "put_member",
    "read_member",
    "remove_member",
]

# What a membership keeps of a subject (``Membership.subject``).
SUBJECT_MAX = 200


async def list_members(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[Membership], str | None]:
    return await repository.members_page(session, project_id, page)


async def get_member(session: AsyncSession, project_id: uuid.UUID, subject: str) -> Membership:
    member = await repository.find(session, project_id, subject)
    if member is None:
        raise NotFound(f"{subject!r} is not a member of this project")
    return member


async def read_member(session: AsyncSession, access: ProjectAccess, subject: str) -> Membership:
    """A member as ``access``'s caller may read it: managers read anyone, others themselves."""
    if subject != access.principal.subject and ROLES[access.role] < ROLES["manager"]:
        raise Forbidden("this needs the manager role in the project")
    return await get_member(session, access.project.id, subject)


def _require_rank_over(access: ProjectAccess, role: str, what: str) -> None:
    # Admins manage everyone; managers manage roles up to their own.
    if ROLES[role] > ROLES[access.role]:
        raise Forbidden(f"a {access.role} cannot {what} a member with the {role} role")


async def _refuse_losing_last_admin(session: AsyncSession, member: Membership) -> None:
    if member.role != "admin":
        return
    admins = await repository.admins_for_update(session, member.project_id)
    if len(admins) <= 1:
        raise Conflict("the project's last admin cannot be removed or demoted; add another first")


async def put_member(
    session: AsyncSession, access: ProjectAccess, subject: str, body: MemberPut
) -> tuple[Membership, bool]:
    """Add or change a member; returns the membership and whether it is new."""
    project_id = access.project.id
    _require_rank_over(access, body.role, "make")
    member = await repository.find(session, project_id, subject)
    held = set(member.permissions) if member is not None else set()
    missing = [
        p
        for p in body.permissions
        if p not in held and not access.principal.has_permission(str(project_id), p)
    ]
    if missing and access.role != "admin":
        raise Forbidden(f"you cannot grant permissions you do not hold: {', '.join(missing)}")
    if member is None:
        member = Membership(
            project_id=project_id,
            subject=subject,
            role=body.role,
            permissions=body.permissions,
        )
        session.add(member)
        await session.flush()
        return member, True
    _require_rank_over(access, member.role, "change")
    if body.role != "admin":
        await _refuse_losing_last_admin(session, member)
    member.role = body.role
    member.permissions = list(body.permissions)
    session.add(member)
    await session.flush()
    return member, False


async def remove_member(session: AsyncSession, access: ProjectAccess, subject: str) -> None:
    """Remove a member: managers remove others up to their rank; anyone may leave."""
    others = subject != access.principal.subject
    # Refused before the look-up: who is a member is for managers to know, so a viewer's
    # probe gets the same answer whether the subject is a member or not.
    if others and ROLES[access.role] < ROLES["manager"]:
        raise Forbidden("this needs the manager role in the project")
    member = await get_member(session, access.project.id, subject)
    if others:
        _require_rank_over(access, member.role, "remove")
    await _refuse_losing_last_admin(session, member)
    await repository.delete(session, member)


async def join_as_volunteer(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> tuple[str, bool]:
    """Make the caller a volunteer of a project open to volunteers; answers the caller's role
    there afterwards and whether this call changed it. A member with a higher role keeps it
    (a viewer becomes a volunteer); joining again changes nothing.

    Raises:
        Forbidden: a device token; or the project is closed and the caller only views it.
        NotFound: no such project, or a closed one the caller holds nothing in (so that
            closed projects stay as invisible as any other).
    """
    principal.require_user()
    if len(principal.subject) > SUBJECT_MAX:
        raise Invalid(
            f"a member's subject is at most {SUBJECT_MAX} characters; this token's is "
            f"{len(principal.subject)}"
        )
    project = await session.get(Project, project_id)
    effective = (
        (await project_principal(session, principal, project_id)).role_in(str(project_id))
        if project is not None
        else None
    )
    if project is None or (effective is None and not project.open_to_volunteers):
        raise NotFound(f"project {project_id} not found, or not open to volunteers")
    member = await repository.find(session, project_id, principal.subject)
    if member is not None and ROLES[member.role] >= ROLES["volunteer"]:
        return member.role, False
    if not project.open_to_volunteers:
        if effective is not None and ROLES[effective] >= ROLES["volunteer"]:
            return effective, False
        raise Forbidden(
            f"project {project_id} is not open to volunteers: its managers can open it or "
            "add you as a member"
        )
    if member is None:
        await repository.add_if_absent(
            session, Membership(project_id=project_id, subject=principal.subject, role="volunteer")
        )
        return "volunteer", True
    member.role = "volunteer"
    await repository.add(session, member)
    return member.role, True
