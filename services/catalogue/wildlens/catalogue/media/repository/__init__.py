"""The media domain's queries for showing and recording media, and for placing them in their
deployments. (The analysis consumer's batch statements are in ``analyses``.)"""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    Deployment,
    Device,
    Location,
    Media,
    ModelRun,
    Observation,
    Project,
)

__all__ = [
    "device_by_serial",
    "device_deployments",
    "get_deployment",
    "get_location",
    "get_media",
    "get_project",
    "model_runs",
    "observations_with_runs",
    "project_exists",
]


async def get_media(session: AsyncSession, media_id: uuid.UUID) -> Media | None:
    return await session.get(Media, media_id)


async def project_exists(session: AsyncSession, project_id: uuid.UUID) -> bool:
    return await session.get(Project, project_id) is not None


async def get_project(session: AsyncSession, project_id: uuid.UUID) -> Project | None:
    return await session.get(Project, project_id)


async def get_deployment(session: AsyncSession, deployment_id: uuid.UUID) -> Deployment | None:
    return await session.get(Deployment, deployment_id)


async def get_location(session: AsyncSession, location_id: uuid.UUID) -> Location | None:
    return await session.get(Location, location_id)


async def device_by_serial(
    session: AsyncSession, project_id: uuid.UUID, serial: str
) -> Device | None:
    rows = await session.exec(
        select(Device).where(Device.project_id == project_id, Device.serial == serial)
    )
    return rows.first()


async def device_deployments(
    session: AsyncSession, project_id: uuid.UUID, device_id: uuid.UUID
) -> list[Deployment]:
    """The camera's deployments in the project, in time order."""
    rows = await session.exec(
        select(Deployment)
        .where(Deployment.project_id == project_id, Deployment.device_id == device_id)
        .order_by(col(Deployment.start), col(Deployment.id))
    )
    return list(rows.all())


async def observations_with_runs(
    session: AsyncSession, media_id: uuid.UUID
) -> list[tuple[Observation, ModelRun | None]]:
    """The medium's observations in the order they were recorded, each with the model run
    that made it (None for people's and imported ones)."""
    rows = await session.exec(
        select(Observation, ModelRun)
        .join(ModelRun, col(Observation.model_run_id) == col(ModelRun.id), isouter=True)
        .where(Observation.media_id == media_id)
        .order_by(col(Observation.classified_at), col(Observation.id))
    )
    return [(o, run) for o, run in rows.all()]


async def model_runs(session: AsyncSession, media_id: uuid.UUID) -> list[ModelRun]:
    """The medium's analyses, oldest first."""
    rows = await session.exec(
        select(ModelRun).where(ModelRun.media_id == media_id).order_by(col(ModelRun.analyzed_at))
    )
    return list(rows.all())
