"""Finding or making the locations, cameras and deployments that imported records refer to.

Formats other than Camtrap DP know sites but not deployments; an import makes one
deployment per site (with the camera that has no serial, as Camtrap DP imports do for
deployments without a camera id) spanning the records it brings, and widens it when a later
import brings more. Where the project already has a deployment at the site over that time,
one it made itself, that is the deployment (``exchange.matching``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.matching import Matches, MatchRule, overlaps
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
        self.matches = Matches()

    def _count(self, table: str) -> None:
        self.created[table] = self.created.get(table, 0) + 1

    async def location(
        self, key: str, name: str, latitude: float | None, longitude: float | None
    ) -> Location | None:
        """The location with the external id ``key``, else the one called ``name``; made when
        there is none and the coordinates are given; None when there is none and they are not."""
        found = await repository.location_by_key_or_name(self.session, self.project_id, key, name)
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
        device = await repository.camera(self.session, self.project_id, serial)
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
        deployment = await repository.deployment_by_external_id(
            self.session, self.project_id, external
        )
        if deployment is None:
            deployment = await self._made_here(location, start, end, external)
            if deployment is not None:
                return deployment
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

    async def _made_here(
        self, location: Location, start: datetime, end: datetime, external: str
    ) -> Deployment | None:
        """The deployment the project made at ``location`` over ``start``-``end``, widened to
        cover it; its camera and clock stay as they are."""
        during = [
            d
            for d in await repository.deployments_by_start(self.session, self.project_id)
            if d.location_id == location.id and d.external_id is None and overlaps(d, start, end)
        ]
        deployment = self.matches.first_free(during, external)
        if deployment is None:
            return None
        self.matches.add("deployments", deployment, external, MatchRule.LOCATION_AND_SPAN)
        deployment.start = min(deployment.start, start)
        if deployment.end is not None:
            deployment.end = max(deployment.end, end)
        self.session.add(deployment)
        await self.session.flush()
        return deployment
