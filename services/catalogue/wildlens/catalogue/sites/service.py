"""The rules for locations, cameras and deployments: everything a request names must belong to
its project, a camera's serial number is unique in a project, and a deployment added or
corrected places its camera's media again (``retiming``)."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.models import Deployment, Device, Location
from wildlens.catalogue.privacy import request_view
from wildlens.catalogue.sites import repository
from wildlens.catalogue.sites.repository import Row
from wildlens.catalogue.sites.retiming import Replacement, replace_media
from wildlens.catalogue.sites.schemas import (
    DeploymentCreate,
    DeploymentUpdate,
    DeviceCreate,
    LocationCreate,
    LocationPublic,
)
from wildlens.common.errors import Conflict, Invalid, NotFound
from wildlens.common.http.pagination import PageParams
from wildlens.common.service import ServiceBus

__all__ = [
    "correct_deployment",
    "create_deployment",
    "create_device",
    "create_location",
    "get_deployment",
    "get_device",
    "list_deployments",
    "list_devices",
    "owned",
    "visible_locations",
]

# What a correction may change.
CORRECTABLE = {
    "location_id",
    "start",
    "end",
    "utc_offset",
    "clock_drift_seconds",
    "clock_checked_at",
}


async def owned(
    session: AsyncSession, model: type[Row], row_id: uuid.UUID, project_id: uuid.UUID, what: str
) -> Row:
    """The row of the project; 404 when it does not exist or belongs to another project."""
    row = await repository.in_project(session, model, row_id, project_id)
    if row is None:
        raise NotFound(f"{what} {row_id} not found in this project")
    return row


async def create_location(
    session: AsyncSession, project_id: uuid.UUID, body: LocationCreate
) -> Location:
    location = Location(project_id=project_id, **body.model_dump())
    session.add(location)
    await session.flush()
    return location


async def visible_locations(
    session: AsyncSession, access: ProjectAccess, page: PageParams
) -> tuple[list[LocationPublic], str | None]:
    """A page of the project's locations as the caller may see them: generalised where a
    sensitive taxon was seen, unless they hold the precise_locations permission."""
    rows, next_cursor = await repository.locations_page(session, access.project.id, page)
    privacy = await request_view(session, access)
    sensitive = await privacy.sensitive_locations(session)
    items = []
    for row in rows:
        item = LocationPublic.model_validate(row)
        if row.id in sensitive:
            place = privacy.place(row.latitude, row.longitude, sensitive=True)
            item.latitude, item.longitude = place.latitude, place.longitude
        items.append(item)
    return items, next_cursor


async def create_device(session: AsyncSession, project_id: uuid.UUID, body: DeviceCreate) -> Device:
    existing = await repository.device_by_serial(session, project_id, body.serial)
    if existing is not None:
        raise Conflict(f"a device with serial {body.serial!r} already exists: {existing.id}")
    device = Device(project_id=project_id, **body.model_dump())
    session.add(device)
    try:
        await session.flush()
    except IntegrityError as exc:
        # Registered by a concurrent request between the look-up and the insert.
        raise Conflict(f"a device with serial {body.serial!r} already exists") from exc
    return device


async def list_devices(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[Device], str | None]:
    return await repository.devices_page(session, project_id, page)


async def get_device(session: AsyncSession, project_id: uuid.UUID, device_id: uuid.UUID) -> Device:
    return await owned(session, Device, device_id, project_id, "device")


async def create_deployment(
    bus: ServiceBus, session: AsyncSession, project_id: uuid.UUID, body: DeploymentCreate
) -> Deployment:
    """Deploy a camera; its media that no deployment covered yet join it."""
    await owned(session, Location, body.location_id, project_id, "location")
    await owned(session, Device, body.device_id, project_id, "device")
    deployment = Deployment(project_id=project_id, **body.model_dump())
    session.add(deployment)
    await session.flush()
    await replace_media(bus, session, deployment)
    return deployment


async def correct_deployment(
    bus: ServiceBus,
    session: AsyncSession,
    project_id: uuid.UUID,
    deployment_id: uuid.UUID,
    body: DeploymentUpdate,
) -> tuple[Deployment, Replacement]:
    """Apply a correction and place the camera's media again; what that changed."""
    deployment = await owned(session, Deployment, deployment_id, project_id, "deployment")
    if body.location_id is not None:
        await owned(session, Location, body.location_id, project_id, "location")
    try:
        merged = body.applied_to(deployment.model_dump(include=CORRECTABLE))
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    # Media that keep their times still move to another place: announce every one of them.
    moved_site = merged["location_id"] != deployment.location_id
    for name, value in merged.items():
        setattr(deployment, name, value)
    session.add(deployment)
    await session.flush()
    result = await replace_media(bus, session, deployment, announce_all=moved_site)
    return deployment, result


async def list_deployments(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[Deployment], str | None]:
    return await repository.deployments_page(session, project_id, page)


async def get_deployment(
    session: AsyncSession, project_id: uuid.UUID, deployment_id: uuid.UUID
) -> Deployment:
    return await owned(session, Deployment, deployment_id, project_id, "deployment")
