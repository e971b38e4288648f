"""Deleting media and deployments (managers), and the project's audit log."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from wildlens.catalogue.access import ManagerDep
from wildlens.catalogue.audit import service
from wildlens.catalogue.audit.schemas import AuditEntryPublic
from wildlens.catalogue.deps import BusDep, SessionDep
from wildlens.catalogue.models import AuditEntry
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["audit"], responses=ERROR_RESPONSES)


def _public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic.model_validate(entry, from_attributes=True)


@router.delete("/media/{media_id}", response_model=AuditEntryPublic)
async def delete_project_media(
    media_id: uuid.UUID, session: SessionDep, access: ManagerDep, bus: BusDep
) -> AuditEntryPublic:
    """Delete a medium with its frames, analyses and observations, and then its stored files
    where no other medium has the same bytes; logged (managers)."""
    entry = await service.delete_media(
        bus, session, access.project.id, media_id, access.principal.subject
    )
    return _public(entry)


@router.delete("/deployments/{deployment_id}", response_model=AuditEntryPublic)
async def delete_project_deployment(
    deployment_id: uuid.UUID, session: SessionDep, access: ManagerDep, bus: BusDep
) -> AuditEntryPublic:
    """Delete a deployment with its media, their observations and its events, and then the
    media's stored files where no other medium has the same bytes; logged (managers)."""
    entry = await service.delete_deployment(
        bus, session, access.project.id, deployment_id, access.principal.subject
    )
    return _public(entry)


@router.get("/audit", response_model=Page[AuditEntryPublic])
async def list_audit_entries(
    session: SessionDep,
    access: ManagerDep,
    page: PageDep,
) -> Page[AuditEntryPublic]:
    """What was deleted in the project, by whom and when, newest first (managers)."""
    entries, next_cursor = await service.audit_entries(session, access.project.id, page)
    return Page(items=[_public(e) for e in entries], next_cursor=next_cursor)
