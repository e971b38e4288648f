"""A project's records as exporters read them: one consistent read, keyed for lookups."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange.repository.places import project_devices, project_locations
from wildlens.catalogue.exchange.repository.records import deployed_media
from wildlens.catalogue.models import (
    Deployment,
    Device,
    Location,
    Media,
    ModelRun,
    Observation,
    Project,
)

__all__ = ["ProjectSnapshot", "load_snapshot"]


@dataclass
class ProjectSnapshot:
    project: Project
    locations: dict[uuid.UUID, Location]
    devices: dict[uuid.UUID, Device]
    deployments: list[Deployment]
    # Media tied to a deployment, by capture time.
    media: list[Media]
    observations: list[Observation]
    model_runs: dict[uuid.UUID, ModelRun]
    by_media: dict[uuid.UUID, list[Observation]] = field(init=False)
    _deployments: dict[uuid.UUID, Deployment] = field(init=False)
    _media: dict[uuid.UUID, Media] = field(init=False)

    def __post_init__(self) -> None:
        self._deployments = {d.id: d for d in self.deployments}
        self._media = {m.id: m for m in self.media}
        grouped: dict[uuid.UUID, list[Observation]] = defaultdict(list)
        for o in self.observations:
            if o.media_id is not None:
                grouped[o.media_id].append(o)
        self.by_media = dict(grouped)

    def deployment(self, deployment_id: uuid.UUID) -> Deployment:
        return self._deployments[deployment_id]

    def location_of(self, deployment_id: uuid.UUID) -> Location:
        return self.locations[self._deployments[deployment_id].location_id]

    def medium(self, media_id: uuid.UUID) -> Media | None:
        return self._media.get(media_id)

    def observation_deployment(self, o: Observation) -> uuid.UUID | None:
        """The deployment an observation belongs to: its own, else its medium's; None when
        neither is known (its medium is not tied to a deployment)."""
        if o.media_id is not None:
            media = self._media.get(o.media_id)
            return media.deployment_id if media else None
        return o.deployment_id


async def load_snapshot(session: AsyncSession, project: Project) -> ProjectSnapshot:
    """Everything an export of ``project`` needs, read in ``session``."""
    pid = project.id
    locations = await project_locations(session, pid)
    devices = {d.id: d for d in await project_devices(session, pid)}
    deployments = list(
        await session.exec(
            select(Deployment)
            .where(Deployment.project_id == pid)
            .order_by(col(Deployment.start), col(Deployment.id))
        )
    )
    media = await deployed_media(session, pid)
    observations = list(
        await session.exec(
            select(Observation)
            .where(Observation.project_id == pid)
            .order_by(col(Observation.classified_at), col(Observation.id))
        )
    )
    runs = {
        run.id: run
        for run in await session.exec(
            select(ModelRun)
            .join(Media, col(Media.id) == col(ModelRun.media_id))
            .where(Media.project_id == pid)
        )
    }
    return ProjectSnapshot(project, locations, devices, deployments, media, observations, runs)
