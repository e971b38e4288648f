"""Deleting media and deployments (managers), and the project's audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import and_, or_
from sqlmodel import col, select

from wildlens.catalogue.access import ProjectAccess, require_access
from wildlens.catalogue.audit.deletion import delete_deployment, delete_media
from wildlens.catalogue.audit.schemas import AuditEntryPublic
from wildlens.catalogue.deps import ContextDep, SessionDep
from wildlens.catalogue.models import AuditEntry
from wildlens.common.errors import Invalid
from wildlens.common.http import ERROR_RESPONSES, Page, PrincipalDep, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["audit"], responses=ERROR_RESPONSES)


async def _manager(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ProjectAccess:
    # A dependency, so that a caller without the role hears so before anything else.
    return await require_access(session, principal, project_id, "manager")


ManagerDep = Annotated[ProjectAccess, Depends(_manager)]


def _public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic.model_validate(entry, from_attributes=True)


@router.delete("/media/{media_id}", response_model=AuditEntryPublic)
async def delete_project_media(
    media_id: uuid.UUID, session: SessionDep, access: ManagerDep, ctx: ContextDep
) -> AuditEntryPublic:
    """Delete a medium with its frames, analyses and observations, and then its stored files
    where no other medium has the same bytes; logged (managers)."""
    entry = await delete_media(ctx, session, access.project.id, media_id, access.principal.subject)
    return _public(entry)


@router.delete("/deployments/{deployment_id}", response_model=AuditEntryPublic)
async def delete_project_deployment(
    deployment_id: uuid.UUID, session: SessionDep, access: ManagerDep, ctx: ContextDep
) -> AuditEntryPublic:
    """Delete a deployment with its media, their observations and its events, and then the
    media's stored files where no other medium has the same bytes; logged (managers)."""
    entry = await delete_deployment(
        ctx, session, access.project.id, deployment_id, access.principal.subject
    )
    return _public(entry)


@router.get("/audit", response_model=Page[AuditEntryPublic])
async def list_audit_entries(
    session: SessionDep,
    access: ManagerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Page[AuditEntryPublic]:
    """What was deleted in the project, by whom and when, newest first (managers)."""
    query = select(AuditEntry).where(AuditEntry.project_id == access.project.id)
    if cursor:
        raw = decode_cursor(cursor)
        try:
            at, last = datetime.fromisoformat(str(raw[0])), uuid.UUID(str(raw[1]))
        except (IndexError, TypeError, ValueError) as exc:
            raise Invalid("cursor is not one this API returned") from exc
        query = query.where(
            or_(
                col(AuditEntry.at) < at,
                and_(col(AuditEntry.at) == at, col(AuditEntry.id) < last),
            )
        )
    rows = (
        await session.exec(
            query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit + 1)
        )
    ).all()
    page = rows[:limit]
    more = len(rows) > limit
    return Page(
        items=[_public(e) for e in page],
        next_cursor=encode_cursor([page[-1].at.isoformat(), str(page[-1].id)]) if more else None,
    )
