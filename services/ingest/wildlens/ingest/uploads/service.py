"""Accepting one upload: check the bytes first, then record and announce them in one unit of
work (one transaction).

Where the original is written depends on its size. A large one (a video) is written before
the transaction begins, so that no connection waits minutes for S3, and is looked for again
once its medium is recorded: a removal of the last medium with the same bytes may have taken
it in between. A small one (every camera-trap image) is written inside the unit, right after
its medium is recorded while the content's lock is held, so nothing can take it between the
write and the commit: one S3 request per upload instead of two, and none for a duplicate."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

from wildlens.common.db import Database
from wildlens.common.errors import PayloadTooLarge
from wildlens.common.events.v1.media_pb2 import MediaIngested, MediaKind, RawMetadata
from wildlens.common.service import ServiceBus
from wildlens.common.storage import ObjectStore
from wildlens.ingest.derivatives.jobs import derivatives_requested
from wildlens.ingest.media import RawMetadata as ExifMetadata
from wildlens.ingest.media import Received, Sniffed, inspect_image, sniff_file
from wildlens.ingest.metrics import DUPLICATES
from wildlens.ingest.models import IngestedMedia
from wildlens.ingest.objects import hold_content, original_key
from wildlens.ingest.settings import IngestSettings
from wildlens.ingest.uploads import repository
from wildlens.ingest.uploads.idempotency import (
    KeyClaim,
    purge_expired_keys,
    recall,
    remember,
    replayed_before,
)
from wildlens.ingest.uploads.unit import StoredOriginal, UploadUnit, upload_unit
from wildlens.ingest.video.jobs import split_requested
from wildlens.ingest.video.probe import probe_video

# Up to this size an original is written inside its unit of work (the module's docstring).
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
    # Answered from the idempotency key, without looking at the bytes.
    replayed: bool = False


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


async def _within_limits(
    limits: IngestSettings, received: Received, sniffed: Sniffed | None
) -> Sniffed:
    """What the bytes are, refused when they are larger than ``limits`` allow for their kind.

    Raises:
        PayloadTooLarge, UnsupportedMedia: the file is refused.
    """
    if sniffed is None:
        # Not sniffed while streaming (a bulk upload's verified object): sniff the file.
        sniffed = await asyncio.to_thread(sniff_file, received.path)
    limit = limits.max_image_bytes if sniffed.kind == "image" else limits.max_video_bytes
    if received.size > limit:
        raise PayloadTooLarge(
            f"{sniffed.kind} is {received.size} bytes, more than the limit of {limit} bytes"
        )
    return sniffed


@dataclass(frozen=True)
class Original:
    """An upload's bytes, checked, inspected and in storage: what recording them needs."""

    media_id: uuid.UUID
    sniffed: Sniffed
    object_key: str
    width: int
    height: int
    metadata: ExifMetadata | None
    # Written by this upload before its unit of work, rather than found in place: what the
    # unit removes again when nothing comes to hold it (``unit.upload_unit``).
    stored: StoredOriginal | None
    # Small: written by the unit of work once its medium is recorded (``_record``).
    written_in_unit: bool = False


async def prepare_original(
    store: ObjectStore,
    limits: IngestSettings,
    received: Received,
    sniffed: Sniffed | None = None,
) -> Original:
    """Check and inspect an upload received to a temporary file, held to ``limits``, before
    any transaction is opened; store it now if it is large (the module's docstring), so that
    no database connection waits while it is copied (a large video takes minutes to reach S3).

    Raises:
        PayloadTooLarge, UnsupportedMedia, Invalid: the file is refused.
    """
    sniffed = await _within_limits(limits, received, sniffed)
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

    media_id = uuid.uuid4()
    object_key = original_key(received.sha256, sniffed.extension)
    if received.size < SMALL_OBJECT:
        return Original(
            media_id, sniffed, object_key, width, height, metadata, None, written_in_unit=True
        )
    stored: StoredOriginal | None = None
    # Originals are content-addressed, so the same bytes found in place need no copy.
    if not await store.exists(object_key):
        await store.put_file(object_key, received.path, sniffed.content_type)
        stored = StoredOriginal(media_id, received.sha256, object_key)
    return Original(media_id, sniffed, object_key, width, height, metadata, stored)


async def take_upload(
    database: Database,
    store: ObjectStore,
    bus: ServiceBus,
    limits: IngestSettings,
    received: Received,
    request: UploadRequest,
    *,
    sniffed: Sniffed | None = None,
    key: KeyClaim | None = None,
) -> Accepted:
    """Accept one upload: store its bytes, then record and announce them in one unit of work,
    committed before this returns.

    The same bytes posted again for the same project answer the first media id and announce
    nothing; a key used before answers what it answered then, without looking at the bytes.

    Raises:
        PayloadTooLarge, UnsupportedMedia, Invalid: the file is refused.
        Invalid: the key was used for other content or another project.
    """
    # Refused on what it is and its size before the key is looked at, as always.
    sniffed = await _within_limits(limits, received, sniffed)
    if key is not None:
        # A short read of its own, over before the bytes are stored: a retry of a large
        # video is answered without storing or probing it again.
        replayed = await replayed_before(
            database, key, project_id=request.project_id, sha256=received.sha256
        )
        if replayed is not None:
            return Accepted(replayed, received.sha256, duplicate=True, replayed=True)
    original = await prepare_original(store, limits, received, sniffed)
    async with upload_unit(database, store, bus, original.stored) as unit:
        accepted = await accept_upload(unit, received, request, original, key=key)
    if key is not None:
        # Housekeeping, after the upload's commit and never part of it.
        await purge_expired_keys(database, key.expiry)
    return accepted


async def accept_upload(
    unit: UploadUnit,
    received: Received,
    request: UploadRequest,
    original: Original,
    *,
    key: KeyClaim | None = None,
) -> Accepted:
    """Record and announce an upload checked by ``prepare_original``, in ``unit``'s
    transaction (flushed, not committed), writing its original if it is small.

    Raises:
        Invalid: the key was used for other content or another project.
    """
    session = unit.session
    if key is not None:
        # Again, in the transaction: a concurrent request with the same key may have
        # committed since the first look.
        replayed = await recall(session, key, project_id=request.project_id, sha256=received.sha256)
        if replayed is not None:
            return Accepted(replayed, received.sha256, duplicate=True, replayed=True)
    accepted = await _record(unit, received, request, original)
    if key is None:
        return accepted
    media_id = await remember(
        session,
        key,
        project_id=request.project_id,
        sha256=received.sha256,
        media_id=accepted.media_id,
    )
    if media_id != accepted.media_id:
        # A concurrent request with the same key got there first: its answer stands.
        return Accepted(media_id, received.sha256, duplicate=True)
    return accepted


async def _record(
    unit: UploadUnit, received: Received, request: UploadRequest, original: Original
) -> Accepted:
    """Record and announce the upload, or answer the project's medium with these bytes.

    The insert is the look: most uploads are new bytes, and a duplicate is found by the insert
    doing nothing, which saves every new upload a query.
    """
    session = unit.session
    sniffed, object_key, media_id = original.sniffed, original.object_key, original.media_id
    # Takes turns with a removal or an upload of the same bytes (``objects.hold_content``);
    # on SQLite the insert, a write before the look, is what takes turns.
    await hold_content(session, received.sha256)
    recorded = await repository.record_medium(
        session,
        IngestedMedia(
            id=media_id,
            project_id=request.project_id,
            sha256=received.sha256,
            object_key=object_key,
            content_type=sniffed.content_type,
            size_bytes=received.size,
            device_id=request.device_id,
            uploaded_by=request.uploaded_by,
        ),
    )
    if not recorded:
        # The project has these bytes (posted before, or by a concurrent post that won the
        # race); answer with that medium's id.
        winner = await repository.find_medium(session, request.project_id, received.sha256)
        if winner is None:
            raise RuntimeError(f"media with sha256 {received.sha256} neither recorded nor found")
        DUPLICATES.labels("content").inc()
        return Accepted(winner.id, winner.sha256, duplicate=True)
    if original.written_in_unit:
        # With the row in and the content held, no removal or sweep can take it before the
        # commit; if the unit rolls back, it is removed again unless something holds it.
        unit.stored.append(StoredOriginal(media_id, received.sha256, object_key))
        await unit.store.put_file(object_key, received.path, sniffed.content_type)
    elif not await unit.store.exists(object_key):
        # The removal of the last medium with these bytes may have taken the original since
        # it was stored (``removal``); with the row in, it can no longer.
        await unit.store.put_file(object_key, received.path, sniffed.content_type)
    event = _announcement(
        media_id,
        received,
        request,
        sniffed,
        object_key,
        original.width,
        original.height,
        original.metadata,
    )
    # Frames and derivatives are made off the request path, committed with the announcement
    # so that neither exists without the other.
    follow_up = (
        split_requested(event)
        if sniffed.kind == "video"
        else derivatives_requested(received.sha256, object_key, sniffed.content_type)
    )
    await unit.bus.stage(session, [event, follow_up])
    return Accepted(media_id, received.sha256, duplicate=False)


def _announcement(
    media_id: uuid.UUID,
    received: Received,
    request: UploadRequest,
    sniffed: Sniffed,
    object_key: str,
    width: int,
    height: int,
    metadata: ExifMetadata | None,
) -> MediaIngested:
    event = MediaIngested(
        media_id=str(media_id),
        project_id=str(request.project_id),
        sha256=received.sha256,
        object_key=object_key,
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
    return event
