"""Finding or making the locations, cameras and deployments that imported records refer to.

Formats other than Camtrap DP know sites but not deployments; an import makes one
deployment per site (with the camera that has no serial, as Camtrap DP imports do for
deployments without a camera id) spanning the records it brings, and widens it when a later
import brings more.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import case
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment, Device, Location

__all__ = ["SitePlaces"]


class SitePlaces:
    """The project's locations by external id or name, and a deployment for each."""

    def __init__(self, session: AsyncSession, project_id: uuid.UUID, prefix: str) -> None:
        self.session = session
        self.project_id = project_id
        # Deployments made by one format carry its name in their external id.
        self.prefix = prefix
        self.created: dict[str, int] = {}

    def _count(self, table: str) -> None:
        self.created[table] = self.created.get(table, 0) + 1

    async def location(
        self, key: str, name: str, latitude: float | None, longitude: float | None
    ) -> Location | None:
        """The location with the external id ``key``, else the one called ``name``; made when
        there is none and the coordinates are given; None when there is none and they are not."""
        found = (
            await self.session.exec(
                select(Location)
                .where(
                    Location.project_id == self.project_id,
                    or_(col(Location.external_id) == key, col(Location.name) == name),
                )
                # The one with the external id first.
                .order_by(case((col(Location.external_id) == key, 0), else_=1))
            )
        ).first()
        if found is not None:
            if latitude is not None and longitude is not None:
                found.latitude, found.longitude = latitude, longitude
                self.session.add(found)
            return found
        if latitude is None or longitude is None:
            return None
        location = Location(
            project_id=self.project_id,
            name=name[:200],
            latitude=latitude,
            longitude=longitude,
            external_id=key[:200],
        )
        self.session.add(location)
        await self.session.flush()
        self._count("locations")
        return location

    async def _camera(self, serial: str) -> Device:
        device = (
            await self.session.exec(
                select(Device).where(Device.project_id == self.project_id, Device.serial == serial)
            )
        ).first()
        if device is None:
            device = Device(project_id=self.project_id, serial=serial)
            self.session.add(device)
            await self.session.flush()
            self._count("devices")
        return device

    async def deployment(
        self,
        location: Location,
        start: datetime,
        end: datetime,
        utc_offset: str,
        *,
        serial: str = "",
    ) -> Deployment:
        """This format's deployment at ``location``, covering ``start`` to ``end``."""
        external = f"{self.prefix}:{location.external_id or location.id}:{serial}"[:200]
        deployment = (
            await self.session.exec(
                select(Deployment).where(
                    Deployment.project_id == self.project_id,
                    Deployment.external_id == external,
                )
            )
        ).first()
        if deployment is None:
            device = await self._camera(serial)
            deployment = Deployment(
                project_id=self.project_id,
                location_id=location.id,
                device_id=device.id,
                start=start,
                end=end,
                utc_offset=utc_offset,
                external_id=external,
            )
            self._count("deployments")
        else:
            deployment.start = min(deployment.start, start)
            deployment.end = max(deployment.end or end, end)
            deployment.utc_offset = utc_offset
        self.session.add(deployment)
        await self.session.flush()
        return deployment
