"""Queries on locations, cameras, deployments and device tokens, always within one project."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import Table, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment, Device, DeviceToken, Location, Media
from wildlens.common.db.pagination import page_by_id
from wildlens.common.http.pagination import PageParams

__all__ = [
    "Row",
    "camera_media_page",
    "deployments_page",
    "device_by_serial",
    "devices_page",
    "find_device",
    "find_location",
    "in_project",
    "locations_page",
    "token_for_update",
    "tokens_page",
]

Row = TypeVar("Row", Location, Device, Deployment)

_MEDIA: Table = Media.__table__  # type: ignore[attr-defined]


async def _page(
    session: AsyncSession, model: type[Row], project_id: uuid.UUID, page: PageParams
) -> tuple[list[Row], str | None]:
    query = select(model).where(model.project_id == project_id)
    return await page_by_id(session, query, col(model.id), page)


async def locations_page(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[Location], str | None]:
    return await _page(session, Location, project_id, page)


async def devices_page(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[Device], str | None]:
    return await _page(session, Device, project_id, page)


async def deployments_page(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[Deployment], str | None]:
    return await _page(session, Deployment, project_id, page)


async def in_project(
    session: AsyncSession, model: type[Row], row_id: uuid.UUID, project_id: uuid.UUID
) -> Row | None:
    """The row, if it exists and belongs to the project (another project's is as absent)."""
    row = await session.get(model, row_id)
    if row is None or row.project_id != project_id:
        return None
    return row


async def find_device(session: AsyncSession, device_id: uuid.UUID) -> Device | None:
    return await session.get(Device, device_id)


async def find_location(session: AsyncSession, location_id: uuid.UUID) -> Location | None:
    return await session.get(Location, location_id)


async def device_by_serial(
    session: AsyncSession, project_id: uuid.UUID, serial: str
) -> Device | None:
    query = select(Device).where(Device.project_id == project_id, Device.serial == serial)
    return (await session.exec(query)).first()


async def camera_media_page(
    session: AsyncSession,
    deployment: Deployment,
    serial: str,
    *,
    after: uuid.UUID | None,
    limit: int,
) -> list[Media]:
    """The next media by id that a deployment's camera may place: the deployment's own, the
    camera's media no deployment covers, and media posted before the camera was registered
    whose EXIF serial number is the camera's."""
    query = (
        select(Media)
        .where(
            Media.project_id == deployment.project_id,
            or_(
                col(Media.deployment_id) == deployment.id,
                col(Media.deployment_id).is_(None) & (col(Media.device_id) == deployment.device_id),
                col(Media.deployment_id).is_(None)
                & col(Media.device_id).is_(None)
                & (_MEDIA.c.raw_metadata["serial"].as_string() == serial),
            ),
        )
        .order_by(col(Media.id))
    )
    if after is not None:
        query = query.where(col(Media.id) > after)
    return list((await session.exec(query.limit(limit))).all())


async def tokens_page(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[DeviceToken], str | None]:
    query = select(DeviceToken).where(DeviceToken.project_id == project_id)
    return await page_by_id(session, query, col(DeviceToken.id), page)


async def token_for_update(session: AsyncSession, token_id: uuid.UUID) -> DeviceToken | None:
    # Locked, so that two managers revoking at once announce it once.
    query = select(DeviceToken).where(DeviceToken.id == token_id).with_for_update()
    return (await session.exec(query)).first()
