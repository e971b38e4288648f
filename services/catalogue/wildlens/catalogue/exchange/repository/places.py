"""The locations, cameras and deployments imports look up and exports read."""

from __future__ import annotations

import uuid

from sqlalchemy import case
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment, Device, Location

__all__ = [
    "camera",
    "deployment_by_external_id",
    "deployments_by_start",
    "location_by_key_or_name",
    "project_devices",
    "project_locations",
    "unnamed_locations",
]


async def project_locations(
    session: AsyncSession, project_id: uuid.UUID
) -> dict[uuid.UUID, Location]:
    """The project's locations by id."""
    return {
        loc.id: loc
        for loc in await session.exec(select(Location).where(Location.project_id == project_id))
    }


async def project_devices(session: AsyncSession, project_id: uuid.UUID) -> list[Device]:
    return list(await session.exec(select(Device).where(Device.project_id == project_id)))


async def unnamed_locations(session: AsyncSession, project_id: uuid.UUID) -> list[Location]:
    """The project's locations without an external id (an import knows them by name and
    coordinates)."""
    return list(
        await session.exec(
            select(Location).where(
                Location.project_id == project_id, col(Location.external_id).is_(None)
            )
        )
    )


async def deployments_by_start(session: AsyncSession, project_id: uuid.UUID) -> list[Deployment]:
    return list(
        await session.exec(
            select(Deployment)
            .where(Deployment.project_id == project_id)
            .order_by(col(Deployment.start))
        )
    )


async def location_by_key_or_name(
    session: AsyncSession, project_id: uuid.UUID, key: str, name: str
) -> Location | None:
    """The project's location with the external id ``key``, else the one called ``name``."""
    return (
        await session.exec(
            select(Location)
            .where(
                Location.project_id == project_id,
                or_(col(Location.external_id) == key, col(Location.name) == name),
            )
            # The one with the external id first.
            .order_by(case((col(Location.external_id) == key, 0), else_=1))
        )
    ).first()


async def camera(session: AsyncSession, project_id: uuid.UUID, serial: str) -> Device | None:
    return (
        await session.exec(
            select(Device).where(Device.project_id == project_id, Device.serial == serial)
        )
    ).first()


async def deployment_by_external_id(
    session: AsyncSession, project_id: uuid.UUID, external_id: str
) -> Deployment | None:
    return (
        await session.exec(
            select(Deployment).where(
                Deployment.project_id == project_id,
                Deployment.external_id == external_id,
            )
        )
    ).first()
