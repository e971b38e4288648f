"""Accepting one upload: hash, check, store once, record, announce."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from wildlens.common.errors import PayloadTooLarge
from wildlens.common.events.v1.media_pb2 import MediaIngested, MediaKind, RawMetadata
from wildlens.common.service.context import ServiceContext
from wildlens.ingest.derivatives.jobs import derivatives_requested
from wildlens.ingest.media import RawMetadata as ExifMetadata
from wildlens.ingest.media import Received, Sniffed, inspect_image, sniff_file
from wildlens.ingest.metrics import DUPLICATES
from wildlens.ingest.models import IngestedMedia
from wildlens.ingest.objects import hold_content, original_key
from wildlens.ingest.settings import IngestSettings
from wildlens.ingest.video.jobs import split_requested
from wildlens.ingest.video.probe import probe_video

SMALL_OBJECT = 8 * 1024 * 1024


@dataclass(frozen=True)
class UploadRequest:
    project_id: uuid.UUID
    device_id: uuid.UUID | None
    deployment_id: uuid.UUID | None
    captured_at: datetime | None
    latitude: float | None
    longitude: float | None
    filename: str
    uploaded_by: str


@dataclass(frozen=True)
class Accepted:
    media_id: uuid.UUID
    sha256: str
    duplicate: bool


def _raw_metadata(meta: ExifMetadata | None) -> RawMetadata:
    raw = RawMetadata()
    if meta is None:
        return raw
    raw.datetime_original = meta.datetime_original or ""
    raw.offset_time_original = meta.offset_time_original or ""
    raw.make = meta.make or ""
    raw.model = meta.model or ""
    raw.serial = meta.serial or ""
    if meta.gps_latitude is not None:
        raw.gps_latitude = meta.gps_latitude
    if meta.gps_longitude is not None:
        raw.gps_longitude = meta.gps_longitude
    if meta.gps_altitude is not None:
        raw.gps_altitude = meta.gps_altitude
    return raw


async def _existing(
    ctx: ServiceContext, project_id: uuid.UUID, sha256: str
) -> IngestedMedia | None:
    assert ctx.db is not None
    async with ctx.db.transaction() as session:
        return (
            await session.exec(
                select(IngestedMedia).where(
                    IngestedMedia.project_id == project_id, IngestedMedia.sha256 == sha256
                )
            )
        ).first()


async def accept_upload(
    ctx: ServiceContext,
    received: Received,
    request: UploadRequest,
    *,
    sniffed: Sniffed | None = None,
) -> Accepted:
    """Store and announce an upload that has been received to a temporary file.

    The same bytes posted again for the same project answer the first media id and announce
    nothing. The object is written before the database row, so a crash in between leaves at
    most an unreferenced content-addressed object that the next identical upload reuses.
    """
    if sniffed is None:
        # Not sniffed while streaming (a bulk upload's verified object): sniff the file.
        sniffed = await asyncio.to_thread(sniff_file, received.path)
    limits = IngestSettings.of(ctx.settings)
    limit = limits.max_image_bytes if sniffed.kind == "image" else limits.max_video_bytes
    if received.size > limit:
        raise PayloadTooLarge(
            f"{sniffed.kind} is {received.size} bytes, more than the limit of {limit} bytes"
        )

    existing = await _existing(ctx, request.project_id, received.sha256)
    if existing is not None:
        DUPLICATES.labels("content").inc()
        return Accepted(existing.id, existing.sha256, duplicate=True)

    width = height = 0
    metadata: ExifMetadata | None = None
    if sniffed.kind == "image":
        info = await asyncio.to_thread(
            inspect_image, received.path, sniffed, max_pixels=limits.max_image_pixels
        )
        width, height, metadata = info.width, info.height, info.metadata
    else:
        # Refuses, before anything is stored, a "video" that will never yield a frame.
        video = await asyncio.to_thread(probe_video, received.path)
        width, height = video.width, video.height

    key = original_key(received.sha256, sniffed.extension)
    # Originals are content-addressed, so writing the same bytes again changes nothing; a
    # look first only pays for itself when the upload is large.
    if received.size < SMALL_OBJECT or not await ctx.store.exists(key):
        await ctx.store.put_file(key, received.path, sniffed.content_type)

    media_id = uuid.uuid4()
    event = MediaIngested(
        media_id=str(media_id),
        project_id=str(request.project_id),
        sha256=received.sha256,
        object_key=key,
        content_type=sniffed.content_type,
        kind=MediaKind.MEDIA_KIND_IMAGE if sniffed.kind == "image" else MediaKind.MEDIA_KIND_VIDEO,
        size_bytes=received.size,
        width=width,
        height=height,
        filename=request.filename,
        device_id=str(request.device_id) if request.device_id else "",
        deployment_id=str(request.deployment_id) if request.deployment_id else "",
        captured_at=request.captured_at.isoformat() if request.captured_at else "",
        metadata=_raw_metadata(metadata),
        uploaded_by=request.uploaded_by,
    )
    if request.latitude is not None:
        event.latitude = request.latitude
    if request.longitude is not None:
        event.longitude = request.longitude

    assert ctx.db is not None
    try:
        async with ctx.db.transaction() as session:
            await hold_content(session, received.sha256)
            session.add(
                IngestedMedia(
                    id=media_id,
                    project_id=request.project_id,
                    sha256=received.sha256,
                    object_key=key,
                    content_type=sniffed.content_type,
                    size_bytes=received.size,
                    device_id=request.device_id,
                    uploaded_by=request.uploaded_by,
                )
            )
            await session.flush()
            # The removal of the last medium with these bytes may have taken the original
            # since it was written above (``removal``); with the row in, it can no longer.
            if not await ctx.store.exists(key):
                await ctx.store.put_file(key, received.path, sniffed.content_type)
            # Frames and derivatives are made off the request path, committed with the
            # announcement so that neither exists without the other.
            follow_up = (
                split_requested(event)
                if sniffed.kind == "video"
                else derivatives_requested(received.sha256, key, sniffed.content_type)
            )
            await ctx.stage(session, [event, follow_up])
    except IntegrityError:
        # A concurrent post of the same bytes won the race; answer with its id.
        winner = await _existing(ctx, request.project_id, received.sha256)
        if winner is None:
            raise
        DUPLICATES.labels("content").inc()
        return Accepted(winner.id, winner.sha256, duplicate=True)
    return Accepted(media_id, received.sha256, duplicate=False)
