"""``media.ingested`` → a recorded medium in its event, and ``media.recorded`` for inference."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

import structlog
from google.protobuf.json_format import MessageToDict
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.media import repository
from wildlens.catalogue.media.resolution import resolve
from wildlens.catalogue.models import Deployment, Location, Media
from wildlens.catalogue.objects.repository import features_of
from wildlens.catalogue.sequences.sequencing import join_event
from wildlens.common.events.v1.media_pb2 import MediaIngested, MediaKind, MediaRecorded
from wildlens.common.service import ServiceBus

__all__ = ["KIND_NUMBERS", "record_media", "recorded_message"]

log = structlog.get_logger(__name__)

_KINDS = {MediaKind.MEDIA_KIND_VIDEO: "video", MediaKind.MEDIA_KIND_FRAME: "frame"}
KIND_NUMBERS = {
    "image": MediaKind.MEDIA_KIND_IMAGE,
    "video": MediaKind.MEDIA_KIND_VIDEO,
    "frame": MediaKind.MEDIA_KIND_FRAME,
}


def recorded_message(
    media: Media,
    deployment: Deployment | None,
    location: Location | None,
    *,
    single_object: bool = False,
    features: Mapping[str, float] | None = None,
) -> MediaRecorded:
    """What inference (and anyone else listening) needs to know of a recorded medium; sent
    again whenever its deployment, place or time changes. ``single_object``: the medium is
    one object's whole crop (its project's media are objects); ``features``: the object's
    features, for a classifier that combines them with the pixels."""
    recorded = MediaRecorded(
        media_id=str(media.id),
        project_id=str(media.project_id),
        deployment_id=str(deployment.id) if deployment else "",
        location_id=str(location.id) if location else "",
        region=location.region if location else "",
        object_key=media.object_key,
        sha256=media.sha256,
        content_type=media.content_type,
        kind=KIND_NUMBERS.get(media.kind, MediaKind.MEDIA_KIND_UNSPECIFIED),
        single_object=single_object,
        features=dict(features or {}),
    )
    if media.captured_at is not None:
        recorded.captured_at.FromDatetime(media.captured_at)
    return recorded


async def record_media(
    session: AsyncSession, bus: ServiceBus, event: MediaIngested, received_at: datetime
) -> None:
    """Record an ingested medium in its deployment and event, and stage ``media.recorded``
    (``received_at``: when ingest announced it, for media without a capture time)."""
    media_id = uuid.UUID(event.media_id)
    if await repository.get_media(session, media_id) is not None:
        return  # recorded already (the same upload announced twice)
    project_id = uuid.UUID(event.project_id)
    project = await repository.get_project(session, project_id)
    if project is None:
        log.warning("media.unknown_project", media_id=event.media_id, project_id=event.project_id)
        return
    resolution = await resolve(session, project_id, event, received_at)
    if project.media_kind == "objects":
        # A single object is no camera's photo: it neither waits for a deployment nor is
        # flagged for lacking one.
        resolution = replace(resolution, deployment=None, device_id=None, issue="", pinned=False)
    deployment = resolution.deployment
    media = Media(
        id=media_id,
        project_id=project_id,
        deployment_id=deployment.id if deployment else None,
        device_id=resolution.device_id,
        sha256=event.sha256,
        object_key=event.object_key,
        content_type=event.content_type,
        kind=_KINDS.get(event.kind, "image"),
        size_bytes=event.size_bytes,
        width=event.width or None,
        height=event.height or None,
        filename=event.filename,
        captured_at=resolution.captured_at,
        captured_at_source=resolution.captured_at_source,
        resolution_issue=resolution.issue,
        deployment_pinned=resolution.pinned,
        latitude=event.latitude if event.HasField("latitude") else None,
        longitude=event.longitude if event.HasField("longitude") else None,
        raw_metadata=MessageToDict(event.metadata, preserving_proto_field_name=True),
        parent_media_id=uuid.UUID(event.parent_media_id) if event.parent_media_id else None,
        offset_ms=event.offset_ms if event.parent_media_id else None,
        uploaded_by=event.uploaded_by,
    )
    session.add(media)
    await session.flush()
    await join_event(session, media)

    location = (
        await repository.get_location(session, deployment.location_id) if deployment else None
    )
    single_object = project.media_kind == "objects"
    # An object's features travel with it (an object uploaded again after an import has them).
    features = (await features_of(session, [media.id])).get(media.id) if single_object else None
    await bus.stage(
        session,
        [
            recorded_message(
                media, deployment, location, single_object=single_object, features=features
            )
        ],
    )
