"""Locations, devices, deployments, and the device tokens gateways post with."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from wildlens.catalogue.access import ManagerDep, ViewerDep
from wildlens.catalogue.deps import BusDep, IssuerDep, SessionDep
from wildlens.catalogue.models import Deployment, Device, DeviceToken, Location
from wildlens.catalogue.sites import service, tokens
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
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep, error_response

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["sites"], responses=ERROR_RESPONSES)


@router.post("/locations", status_code=201, response_model=LocationPublic)
async def create_location(
    body: LocationCreate, session: SessionDep, access: ManagerDep
) -> Location:
    """Add a location (a site where cameras are deployed)."""
    return await service.create_location(session, access.project.id, body)


@router.get("/locations", response_model=Page[LocationPublic])
async def list_locations(
    session: SessionDep,
    access: ViewerDep,
    page: PageDep,
) -> Page[LocationPublic]:
    """The project's locations (generalised where a sensitive taxon was seen, for callers
    without the precise_locations permission)."""
    items, next_cursor = await service.visible_locations(session, access, page)
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/devices",
    status_code=201,
    response_model=DevicePublic,
    responses={409: error_response("A device with this serial number is already registered")},
)
async def create_device(body: DeviceCreate, session: SessionDep, access: ManagerDep) -> Device:
    """Register a camera by its serial number."""
    return await service.create_device(session, access.project.id, body)


@router.get("/devices", response_model=Page[DevicePublic])
async def list_devices(
    session: SessionDep,
    access: ViewerDep,
    page: PageDep,
) -> Page[DevicePublic]:
    """The project's cameras."""
    rows, next_cursor = await service.list_devices(session, access.project.id, page)
    return Page(items=[DevicePublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/devices/{device_id}", response_model=DevicePublic)
async def get_device(device_id: uuid.UUID, session: SessionDep, access: ViewerDep) -> Device:
    """One camera."""
    return await service.get_device(session, access.project.id, device_id)


@router.post("/deployments", status_code=201, response_model=DeploymentPublic)
async def create_deployment(
    body: DeploymentCreate, session: SessionDep, access: ManagerDep, bus: BusDep
) -> Deployment:
    """Deploy a camera at a location over a time span; the camera's unplaced media join it."""
    return await service.create_deployment(bus, session, access.project.id, body)


@router.patch("/deployments/{deployment_id}", response_model=DeploymentCorrected)
async def correct_deployment(
    deployment_id: uuid.UUID,
    body: DeploymentUpdate,
    session: SessionDep,
    access: ManagerDep,
    bus: BusDep,
) -> DeploymentCorrected:
    """Correct a deployment's clock, span or location; its camera's media follow."""
    deployment, result = await service.correct_deployment(
        bus, session, access.project.id, deployment_id, body
    )
    return DeploymentCorrected(
        **DeploymentPublic.model_validate(deployment).model_dump(),
        media_retimed=result.media_retimed,
        media_moved_in=result.media_moved_in,
        media_moved_out=result.media_moved_out,
        media_announced=result.media_announced,
    )


@router.get("/deployments", response_model=Page[DeploymentPublic])
async def list_deployments(
    session: SessionDep,
    access: ViewerDep,
    page: PageDep,
) -> Page[DeploymentPublic]:
    """The project's deployments."""
    rows, next_cursor = await service.list_deployments(session, access.project.id, page)
    return Page(items=[DeploymentPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/deployments/{deployment_id}", response_model=DeploymentPublic)
async def get_deployment(
    deployment_id: uuid.UUID, session: SessionDep, access: ViewerDep
) -> Deployment:
    """One deployment."""
    return await service.get_deployment(session, access.project.id, deployment_id)


@router.post("/devices/{device_id}/token", status_code=201, response_model=DeviceTokenIssued)
async def create_device_token(
    device_id: uuid.UUID,
    session: SessionDep,
    access: ManagerDep,
    issuer: IssuerDep,
    body: DeviceTokenCreate | None = None,
) -> DeviceTokenIssued:
    """Issue a token a field gateway posts media with, for this camera and optionally others."""
    return await tokens.issue_token(
        issuer,
        session,
        access.project.id,
        device_id,
        body or DeviceTokenCreate(),
        created_by=access.principal.subject,
    )


@router.get("/device-tokens", response_model=Page[DeviceTokenPublic])
async def list_device_tokens(
    session: SessionDep,
    access: ManagerDep,
    page: PageDep,
) -> Page[DeviceTokenPublic]:
    """The project's device tokens, revoked ones included (never the tokens themselves)."""
    rows, next_cursor = await tokens.list_tokens(session, access.project.id, page)
    return Page(items=[_public(r) for r in rows], next_cursor=next_cursor)


@router.delete("/device-tokens/{token_id}", response_model=DeviceTokenPublic)
async def revoke_device_token(
    token_id: uuid.UUID, session: SessionDep, access: ManagerDep, bus: BusDep
) -> DeviceTokenPublic:
    """Revoke a device token; every ingest replica refuses it within seconds."""
    token = await tokens.revoke_token(
        bus, session, access.project.id, token_id, revoked_by=access.principal.subject
    )
    return _public(token)


def _public(token: DeviceToken) -> DeviceTokenPublic:
    return DeviceTokenPublic(
        token_id=token.id,
        project_id=token.project_id,
        device_ids=[uuid.UUID(d) for d in token.device_ids],
        created_by=token.created_by,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        revoked_by=token.revoked_by,
    )
