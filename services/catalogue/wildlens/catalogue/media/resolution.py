"""Which deployment a medium belongs to, and when it was really captured.

Order of evidence: the explicit ``deployment_id``; else the token's camera and the capture
time; else the EXIF serial number. The capture time is the request's when given (it carries an
offset); else the EXIF reading interpreted with the deployment's camera clock; else, with no
deployment, the camera's own offset tag when it wrote one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.sites.clock import exif_to_utc, parse_exif_local, parse_offset
from wildlens.catalogue.sites.models import Deployment, Device
from wildlens.common.events.v1.media_pb2 import MediaIngested


@dataclass(frozen=True)
class Resolution:
    deployment: Deployment | None
    device_id: uuid.UUID | None
    captured_at: datetime | None
    captured_at_source: str
    issue: str = ""


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def _request_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _covers(deployment: Deployment, moment: datetime) -> bool:
    return deployment.start <= moment and (deployment.end is None or moment <= deployment.end)


async def _device_deployments(
    session: AsyncSession, project_id: uuid.UUID, device_id: uuid.UUID
) -> list[Deployment]:
    rows = await session.exec(
        select(Deployment)
        .where(Deployment.project_id == project_id, Deployment.device_id == device_id)
        .order_by(col(Deployment.start))
    )
    return list(rows.all())


def _pick(
    candidates: list[Deployment],
    request_time: datetime | None,
    exif_local: datetime | None,
    received_at: datetime,
) -> tuple[Deployment | None, datetime | None, str]:
    for deployment in candidates:
        if request_time is not None:
            if _covers(deployment, request_time):
                return deployment, request_time, "request"
        elif exif_local is not None:
            moment = exif_to_utc(exif_local, deployment.utc_offset)
            if _covers(deployment, moment):
                return deployment, moment, "exif"
    if request_time is None and exif_local is None:
        # Nothing says when: a gateway posting as it captures is posting about now.
        for deployment in candidates:
            if _covers(deployment, received_at):
                return deployment, None, "none"
    return None, None, ""


async def resolve(
    session: AsyncSession, project_id: uuid.UUID, event: MediaIngested, received_at: datetime
) -> Resolution:
    request_time = _request_time(event.captured_at)
    exif_local = (
        parse_exif_local(event.metadata.datetime_original)
        if event.metadata.datetime_original
        else None
    )
    device_id = _uuid(event.device_id)

    explicit = _uuid(event.deployment_id)
    if explicit is not None:
        deployment = await session.get(Deployment, explicit)
        if deployment is not None and deployment.project_id == project_id:
            if request_time is not None:
                return Resolution(deployment, deployment.device_id, request_time, "request")
            if exif_local is not None:
                return Resolution(
                    deployment,
                    deployment.device_id,
                    exif_to_utc(exif_local, deployment.utc_offset),
                    "exif",
                )
            return Resolution(deployment, deployment.device_id, None, "none")
        issue = f"deployment {event.deployment_id} is not in this project"
        return _fallback(None, request_time, exif_local, event, issue)

    if device_id is None and event.metadata.serial:
        device = (
            await session.exec(
                select(Device).where(
                    Device.project_id == project_id, Device.serial == event.metadata.serial
                )
            )
        ).first()
        device_id = device.id if device else None

    if device_id is not None:
        candidates = await _device_deployments(session, project_id, device_id)
        deployment, moment, source = _pick(candidates, request_time, exif_local, received_at)
        if deployment is not None:
            if source == "none":
                return Resolution(deployment, device_id, None, "none")
            return Resolution(deployment, device_id, moment, source)
        return _fallback(
            device_id,
            request_time,
            exif_local,
            event,
            "no deployment of the camera covers the capture time",
        )

    return _fallback(
        None,
        request_time,
        exif_local,
        event,
        "no deployment, camera or serial number identifies the media",
    )


def _fallback(
    device_id: uuid.UUID | None,
    request_time: datetime | None,
    exif_local: datetime | None,
    event: MediaIngested,
    issue: str,
) -> Resolution:
    if request_time is not None:
        return Resolution(None, device_id, request_time, "request", issue)
    if exif_local is not None and event.metadata.offset_time_original:
        try:
            tz = parse_offset(event.metadata.offset_time_original)
        except ValueError:
            return Resolution(None, device_id, None, "none", issue)
        return Resolution(None, device_id, exif_local.replace(tzinfo=tz), "exif-offset", issue)
    return Resolution(None, device_id, None, "none", issue)
