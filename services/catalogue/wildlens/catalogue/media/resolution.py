"""Which deployment a medium belongs to, and when it was really captured.

Order of evidence: the explicit ``deployment_id``; else the token's camera and the capture
time; else the EXIF serial number. The capture time is the request's when given (it carries an
offset); else the EXIF reading interpreted with the deployment's camera clock (its offset and
drift); else, with no deployment, the camera's own offset tag when it wrote one.

The same evidence, kept on the medium, places it again when a deployment is added or
corrected (``replace``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.media.repository import (
    device_by_serial,
    device_deployments,
    get_deployment,
)
from wildlens.catalogue.models import Deployment, Media
from wildlens.catalogue.models.clock import parse_exif_local, parse_offset
from wildlens.common.events.v1.media_pb2 import MediaIngested

__all__ = [
    "NOT_COVERED",
    "Evidence",
    "Resolution",
    "device_deployments",
    "evidence_of",
    "replace",
    "resolve",
]

NOT_COVERED = "no deployment of the camera covers the capture time"
# Where a capture time came from when it was read off the camera's clock; only these move
# when the clock is corrected.
CAMERA_SOURCES = frozenset({"exif", "exif-offset"})
# Media placed by this module (imported media keep the package's deployment and time).
PLACED_HERE = CAMERA_SOURCES | {"request", "none"}


@dataclass(frozen=True)
class Resolution:
    deployment: Deployment | None
    device_id: uuid.UUID | None
    captured_at: datetime | None
    captured_at_source: str
    issue: str = ""
    # The request named the deployment.
    pinned: bool = False


@dataclass(frozen=True)
class Evidence:
    """What says when a medium was captured."""

    # Given in the request, with its offset; wins over the camera.
    request_time: datetime | None
    # The camera's own reading (EXIF DateTimeOriginal), naive.
    exif_local: datetime | None
    # The camera's own offset tag (EXIF OffsetTimeOriginal), "" when it wrote none.
    exif_offset: str = ""


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


def _evidence(request_time: datetime | None, datetime_original: str, offset: str) -> Evidence:
    exif_local = parse_exif_local(datetime_original) if datetime_original else None
    return Evidence(request_time, exif_local, offset)


def evidence_of(media: Media) -> Evidence:
    """The evidence a recorded medium was placed with, from what the catalogue kept of it."""
    raw = media.raw_metadata or {}
    return _evidence(
        media.captured_at if media.captured_at_source == "request" else None,
        str(raw.get("datetime_original") or ""),
        str(raw.get("offset_time_original") or ""),
    )


def _pick(
    candidates: Sequence[Deployment], evidence: Evidence, received_at: datetime | None
) -> tuple[Deployment | None, datetime | None, str]:
    for deployment in candidates:
        if evidence.request_time is not None:
            if deployment.covers(evidence.request_time):
                return deployment, evidence.request_time, "request"
        elif evidence.exif_local is not None:
            moment = deployment.clock().to_utc(evidence.exif_local)
            if deployment.covers(moment):
                return deployment, moment, "exif"
    if evidence.request_time is None and evidence.exif_local is None and received_at:
        # Nothing says when: a gateway posting as it captures is posting about now.
        for deployment in candidates:
            if deployment.covers(received_at):
                return deployment, None, "none"
    return None, None, ""


def _in(deployment: Deployment, device_id: uuid.UUID | None, evidence: Evidence) -> Resolution:
    """Placed in the deployment the request named."""
    if evidence.request_time is not None:
        return Resolution(deployment, device_id, evidence.request_time, "request", pinned=True)
    if evidence.exif_local is not None:
        moment = deployment.clock().to_utc(evidence.exif_local)
        return Resolution(deployment, device_id, moment, "exif", pinned=True)
    return Resolution(deployment, device_id, None, "none", pinned=True)


def place(
    candidates: Sequence[Deployment],
    device_id: uuid.UUID | None,
    evidence: Evidence,
    received_at: datetime | None,
) -> Resolution:
    """Among one camera's deployments, the one that covers the capture time."""
    deployment, moment, source = _pick(candidates, evidence, received_at)
    if deployment is not None:
        return Resolution(deployment, device_id, moment, source)
    return _fallback(device_id, evidence, NOT_COVERED)


def replace(
    media: Media, device_id: uuid.UUID, candidates: Sequence[Deployment]
) -> Resolution | None:
    """Where a recorded medium of camera ``device_id`` belongs now that the camera's
    deployments (``candidates``) changed; None for media nothing would move (imported, or
    with no time to place them by)."""
    if media.captured_at_source not in PLACED_HERE:
        return None
    evidence = evidence_of(media)
    if media.deployment_pinned:
        pinned = next((d for d in candidates if d.id == media.deployment_id), None)
        if pinned is None or media.captured_at_source not in CAMERA_SOURCES:
            return None
        return _in(pinned, device_id, evidence)
    if evidence.request_time is None and evidence.exif_local is None:
        return None
    return place(candidates, device_id, evidence, None)


async def resolve(
    session: AsyncSession, project_id: uuid.UUID, event: MediaIngested, received_at: datetime
) -> Resolution:
    evidence = _evidence(
        _request_time(event.captured_at),
        event.metadata.datetime_original,
        event.metadata.offset_time_original,
    )
    device_id = _uuid(event.device_id)

    explicit = _uuid(event.deployment_id)
    if explicit is not None:
        deployment = await get_deployment(session, explicit)
        if deployment is not None and deployment.project_id == project_id:
            return _in(deployment, deployment.device_id, evidence)
        issue = f"deployment {event.deployment_id} is not in this project"
        return _fallback(None, evidence, issue)

    if device_id is None and event.metadata.serial:
        device = await device_by_serial(session, project_id, event.metadata.serial)
        device_id = device.id if device else None

    if device_id is not None:
        candidates = await device_deployments(session, project_id, device_id)
        return place(candidates, device_id, evidence, received_at)

    return _fallback(None, evidence, "no deployment, camera or serial number identifies the media")


def _fallback(device_id: uuid.UUID | None, evidence: Evidence, issue: str) -> Resolution:
    if evidence.request_time is not None:
        return Resolution(None, device_id, evidence.request_time, "request", issue)
    if evidence.exif_local is not None and evidence.exif_offset:
        try:
            tz = parse_offset(evidence.exif_offset)
        except ValueError:
            return Resolution(None, device_id, None, "none", issue)
        moment = evidence.exif_local.replace(tzinfo=tz)
        return Resolution(None, device_id, moment, "exif-offset", issue)
    return Resolution(None, device_id, None, "none", issue)
