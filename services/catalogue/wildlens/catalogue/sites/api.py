"""Locations, devices, deployments, and the device tokens gateways post with."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import require_access, require_project
from wildlens.catalogue.deps import ContextDep, SessionDep
from wildlens.catalogue.models import Deployment, Device, DeviceToken, Location
from wildlens.catalogue.privacy import request_view
from wildlens.catalogue.sites.retiming import replace_media
from wildlens.catalogue.sites.schemas import (
    DeploymentCorrected,
    DeploymentCreate,
    DeploymentPublic,
    DeploymentUpdate,
    DeviceCreate,
    DevicePublic,
    DeviceTokenCreate,
    DeviceTokenIssued,
    DeviceTokenPublic,
    LocationCreate,
    LocationPublic,
)
from wildlens.catalogue.sites.tokens import list_tokens, public, revoke_token
from wildlens.common.db import utcnow
from wildlens.common.db.pagination import page_by_id
from wildlens.common.errors import Conflict, Invalid, NotFound, Unavailable
from wildlens.common.http import ERROR_RESPONSES, Page, PrincipalDep

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["sites"], responses=ERROR_RESPONSES)

T = TypeVar("T", bound=SQLModel)
# What a correction may change.
CORRECTABLE = {
    "location_id",
    "start",
    "end",
    "utc_offset",
    "clock_drift_seconds",
    "clock_checked_at",
}
Limit = Annotated[int, Query(ge=1, le=1000)]


async def _page(
    session: AsyncSession, model: type[T], project_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    query = select(model).where(model.project_id == project_id)  # type: ignore[attr-defined]
    return await page_by_id(session, query, col(model.id), limit=limit, cursor=cursor)  # type: ignore[attr-defined]


async def _owned(
    session: AsyncSession, model: type[T], object_id: uuid.UUID, project_id: uuid.UUID, what: str
) -> T:
    row = await session.get(model, object_id)
    if row is None or row.project_id != project_id:  # type: ignore[attr-defined]
        raise NotFound(f"{what} {object_id} not found in this project")
    return row


@router.post("/locations", status_code=201, response_model=LocationPublic)
async def create_location(
    project_id: uuid.UUID, body: LocationCreate, session: SessionDep, principal: PrincipalDep
) -> Location:
    """Add a location (a site where cameras are deployed)."""
    await require_project(session, principal, project_id, "manager")
    location = Location(project_id=project_id, **body.model_dump())
    session.add(location)
    await session.flush()
    return location


@router.get("/locations", response_model=Page[LocationPublic])
async def list_locations(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[LocationPublic]:
    """The project's locations (generalised where a sensitive taxon was seen, for callers
    without the precise_locations permission)."""
    access = await require_access(session, principal, project_id)
    rows, next_cursor = await _page(session, Location, project_id, limit, cursor)
    privacy = await request_view(session, access)
    sensitive = await privacy.sensitive_locations(session)
    items = []
    for row in rows:
        item = LocationPublic.model_validate(row)
        if row.id in sensitive:
            place = privacy.place(row.latitude, row.longitude, sensitive=True)
            item.latitude, item.longitude = place.latitude, place.longitude
        items.append(item)
    return Page(items=items, next_cursor=next_cursor)


@router.post("/devices", status_code=201, response_model=DevicePublic)
async def create_device(
    project_id: uuid.UUID, body: DeviceCreate, session: SessionDep, principal: PrincipalDep
) -> Device:
    """Register a camera by its serial number."""
    await require_project(session, principal, project_id, "manager")
    existing = (
        await session.exec(
            select(Device).where(Device.project_id == project_id, Device.serial == body.serial)
        )
    ).first()
    if existing is not None:
        raise Conflict(f"a device with serial {body.serial!r} already exists: {existing.id}")
    device = Device(project_id=project_id, **body.model_dump())
    session.add(device)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a device with serial {body.serial!r} already exists") from exc
    return device


@router.get("/devices", response_model=Page[DevicePublic])
async def list_devices(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[DevicePublic]:
    """The project's cameras."""
    await require_project(session, principal, project_id)
    rows, next_cursor = await _page(session, Device, project_id, limit, cursor)
    return Page(items=[DevicePublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/deployments", status_code=201, response_model=DeploymentPublic)
async def create_deployment(
    project_id: uuid.UUID,
    body: DeploymentCreate,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
) -> Deployment:
    """Deploy a camera at a location over a time span; the camera's unplaced media join it."""
    await require_project(session, principal, project_id, "manager")
    await _owned(session, Location, body.location_id, project_id, "location")
    await _owned(session, Device, body.device_id, project_id, "device")
    deployment = Deployment(project_id=project_id, **body.model_dump())
    session.add(deployment)
    await session.flush()
    await replace_media(ctx, session, deployment)
    return deployment


@router.patch("/deployments/{deployment_id}", response_model=DeploymentCorrected)
async def correct_deployment(
    project_id: uuid.UUID,
    deployment_id: uuid.UUID,
    body: DeploymentUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
) -> DeploymentCorrected:
    """Correct a deployment's clock, span or location; its camera's media follow."""
    await require_project(session, principal, project_id, "manager")
    deployment = await _owned(session, Deployment, deployment_id, project_id, "deployment")
    if body.location_id is not None:
        await _owned(session, Location, body.location_id, project_id, "location")
    try:
        merged = body.applied_to(deployment.model_dump(include=CORRECTABLE))
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    moved_site = merged["location_id"] != deployment.location_id
    for name, value in merged.items():
        setattr(deployment, name, value)
    session.add(deployment)
    await session.flush()
    result = await replace_media(ctx, session, deployment, announce_all=moved_site)
    return DeploymentCorrected(
        **DeploymentPublic.model_validate(deployment).model_dump(),
        media_retimed=result.media_retimed,
        media_moved_in=result.media_moved_in,
        media_moved_out=result.media_moved_out,
        media_announced=result.media_announced,
    )


@router.get("/deployments", response_model=Page[DeploymentPublic])
async def list_deployments(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[DeploymentPublic]:
    """The project's deployments."""
    await require_project(session, principal, project_id)
    rows, next_cursor = await _page(session, Deployment, project_id, limit, cursor)
    return Page(items=[DeploymentPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/deployments/{deployment_id}", response_model=DeploymentPublic)
async def get_deployment(
    project_id: uuid.UUID, deployment_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Deployment:
    """One deployment."""
    await require_project(session, principal, project_id)
    return await _owned(session, Deployment, deployment_id, project_id, "deployment")


@router.post("/devices/{device_id}/token", status_code=201, response_model=DeviceTokenIssued)
async def create_device_token(
    project_id: uuid.UUID,
    device_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    body: DeviceTokenCreate | None = None,
) -> DeviceTokenIssued:
    """Issue a token a field gateway posts media with, for this camera and optionally others."""
    await require_project(session, principal, project_id, "manager")
    body = body or DeviceTokenCreate()
    device_ids = [device_id, *[d for d in body.also_devices if d != device_id]]
    for d in device_ids:
        await _owned(session, Device, d, project_id, "device")
    if ctx.issuer is None:
        raise Unavailable("this catalogue instance has no signing key configured")
    ttl = timedelta(days=body.ttl_days)
    token, token_id = ctx.issuer.device_token(
        str(project_id),
        [str(d) for d in device_ids],
        subject=f"gateway:{device_id}",
        ttl_s=int(ttl.total_seconds()),
    )
    record = DeviceToken(
        id=uuid.UUID(token_id),
        project_id=project_id,
        device_ids=[str(d) for d in device_ids],
        created_by=principal.subject,
        expires_at=utcnow() + ttl,
    )
    session.add(record)
    await session.flush()
    return DeviceTokenIssued(
        token=token,
        token_id=record.id,
        project_id=project_id,
        device_ids=device_ids,
        expires_at=record.expires_at,
    )


@router.get("/device-tokens", response_model=Page[DeviceTokenPublic])
async def list_device_tokens(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[DeviceTokenPublic]:
    """The project's device tokens, revoked ones included (never the tokens themselves)."""
    await require_project(session, principal, project_id, "manager")
    rows, next_cursor = await list_tokens(session, project_id, limit, cursor)
    return Page(items=[public(r) for r in rows], next_cursor=next_cursor)


@router.delete("/device-tokens/{token_id}", response_model=DeviceTokenPublic)
async def revoke_device_token(
    project_id: uuid.UUID,
    token_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
) -> DeviceTokenPublic:
    """Revoke a device token; every ingest replica refuses it within seconds."""
    await require_project(session, principal, project_id, "manager")
    token = await revoke_token(ctx, session, project_id, token_id, revoked_by=principal.subject)
    return public(token)
