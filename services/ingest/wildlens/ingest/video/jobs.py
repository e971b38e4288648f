"""``ingest.video.requested``: cut a stored video into frames and clips, as child media.

Each child is stored under the video's hash (``frames/<sha256>/<offset_ms>.jpg``,
``frames/<sha256>/clip-<offset_ms>.mp4``) and announced as ``media.ingested`` with the video as
its parent and its offset. A child's media id is derived from the parent's id, its kind and
its offset, so a redelivered request announces the same ids again and the catalogue records
each once.

The cut runs outside any database transaction (a long video takes minutes, and embedded
mode's SQLite would block every upload meanwhile); one short transaction at the end records
the request as done and stages the announcements together (``consumers.video_requested``).
Once every piece of a video is stored, a manifest next to them lets a later request for the
same bytes (another project, a redelivery after a crash) announce the pieces without decoding
the video again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from wildlens.common.events.v1.ingest_pb2 import DerivativesRequested, VideoSplitRequested
from wildlens.common.events.v1.media_pb2 import MediaIngested, MediaKind
from wildlens.common.storage import ObjectNotFound, ObjectStore
from wildlens.ingest.settings import IngestSettings
from wildlens.ingest.video.split import Piece, SplitPlan, cut

__all__ = [
    "Child",
    "announcements",
    "child_media_id",
    "clip_key",
    "frame_key",
    "manifest_key",
    "plan_from",
    "split_requested",
    "stored_children",
]

_HASH_CHUNK = 1 << 20


def frame_key(video_sha256: str, offset_ms: int) -> str:
    return f"frames/{video_sha256}/{offset_ms}.jpg"


def clip_key(video_sha256: str, offset_ms: int) -> str:
    return f"frames/{video_sha256}/clip-{offset_ms}.mp4"


def manifest_key(video_sha256: str) -> str:
    return f"frames/{video_sha256}/manifest.json"


def child_media_id(
    parent_media_id: uuid.UUID, kind: Literal["frame", "clip"], offset_ms: int
) -> uuid.UUID:
    """The media id of the ``kind`` cut at ``offset_ms`` from the video ``parent_media_id``."""
    return uuid.uuid5(parent_media_id, f"{kind}:{offset_ms}")


@dataclass(frozen=True, slots=True)
class Child:
    """One stored piece of a video."""

    kind: Literal["frame", "clip"]
    offset_ms: int
    object_key: str
    sha256: str
    size_bytes: int
    width: int
    height: int
    content_type: str


def plan_from(limits: IngestSettings) -> SplitPlan:
    return SplitPlan(
        frame_interval_s=limits.video_frame_interval_s,
        clip_seconds=limits.video_clip_seconds,
        max_pieces=limits.video_max_frames,
    )


def announcements(
    request: VideoSplitRequested, children: Sequence[Child]
) -> list[MediaIngested | DerivativesRequested]:
    """``media.ingested`` for each child, and a derivatives request for each frame."""
    parent = uuid.UUID(request.media_id)
    start = _capture_time(request.captured_at)
    stem = Path(request.filename).stem or "video"
    events: list[MediaIngested | DerivativesRequested] = []
    for child in children:
        extension = "jpg" if child.kind == "frame" else "mp4"
        event = MediaIngested(
            media_id=str(child_media_id(parent, child.kind, child.offset_ms)),
            project_id=request.project_id,
            sha256=child.sha256,
            object_key=child.object_key,
            content_type=child.content_type,
            kind=MediaKind.MEDIA_KIND_FRAME
            if child.kind == "frame"
            else MediaKind.MEDIA_KIND_VIDEO,
            size_bytes=child.size_bytes,
            width=child.width,
            height=child.height,
            filename=f"{stem}_{child.kind}_{child.offset_ms:09d}ms.{extension}",
            device_id=request.device_id,
            deployment_id=request.deployment_id,
            captured_at=(
                (start + timedelta(milliseconds=child.offset_ms)).isoformat() if start else ""
            ),
            uploaded_by=request.uploaded_by,
            parent_media_id=request.media_id,
            offset_ms=child.offset_ms,
        )
        events.append(event)
        if child.kind == "frame":
            events.append(
                DerivativesRequested(
                    sha256=child.sha256,
                    object_key=child.object_key,
                    content_type=child.content_type,
                )
            )
    return events


def _capture_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


async def stored_children(
    store: ObjectStore, plan: SplitPlan, request: VideoSplitRequested
) -> list[Child]:
    """The video's pieces, cut by ``plan`` and stored (outside any transaction: a long video
    takes minutes), or found in place from an earlier cut of the same bytes."""
    known = await _read_manifest(store, request.sha256, plan)
    if known is not None:
        return known
    with tempfile.TemporaryDirectory(prefix="wildlens-video-") as folder:
        workdir = Path(folder)
        video = workdir / "video"
        # Streams to disk: the video never sits in memory.
        await store.download_to(request.object_key, video)
        children = await _cut_and_store(store, video, request.sha256, plan, workdir)
    await _write_manifest(store, request.sha256, plan, children)
    return children


async def _cut_and_store(
    store: ObjectStore, video: Path, sha256: str, plan: SplitPlan, workdir: Path
) -> list[Child]:
    """Run the cutter in a worker thread, storing each piece before it makes the next."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    children: list[Child] = []

    def emit(piece: Piece) -> None:
        if stop.is_set():
            raise _Stopped
        future = asyncio.run_coroutine_threadsafe(_store_piece(store, sha256, piece), loop)
        children.append(future.result())

    try:
        await asyncio.to_thread(cut, video, plan, workdir, emit)
    except BaseException:
        # Cancelled (shutdown): tell the thread to stop at its next piece.
        stop.set()
        raise
    return children


class _Stopped(Exception):
    """The job was cancelled while the cutter thread was running."""


async def _store_piece(store: ObjectStore, sha256: str, piece: Piece) -> Child:
    key = (
        frame_key(sha256, piece.offset_ms)
        if piece.kind == "frame"
        else clip_key(sha256, piece.offset_ms)
    )
    if await store.exists(key):
        # Stored by an earlier, interrupted run: describe what is there, store nothing.
        digest, size = await _stored_digest(store, key)
    else:
        digest, size = await asyncio.to_thread(_file_digest, piece.path)
        await store.put_file(key, piece.path, piece.content_type)
    return Child(
        kind=piece.kind,
        offset_ms=piece.offset_ms,
        object_key=key,
        sha256=digest,
        size_bytes=size,
        width=piece.width,
        height=piece.height,
        content_type=piece.content_type,
    )


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def _stored_digest(store: ObjectStore, key: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    async for chunk in store.stream(key):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


async def _read_manifest(store: ObjectStore, sha256: str, plan: SplitPlan) -> list[Child] | None:
    try:
        data = json.loads(await store.get_bytes(manifest_key(sha256)))
    except ObjectNotFound:
        return None
    except ValueError:
        return None  # unreadable: cut again, which rewrites it
    if data.get("plan") != asdict(plan):
        return None  # cut with other settings; cut again with these
    return [Child(**child) for child in data["children"]]


async def _write_manifest(
    store: ObjectStore, sha256: str, plan: SplitPlan, children: Sequence[Child]
) -> None:
    body = {"plan": asdict(plan), "children": [asdict(child) for child in children]}
    await store.put_bytes(manifest_key(sha256), json.dumps(body).encode(), "application/json")


def split_requested(video: MediaIngested) -> VideoSplitRequested:
    """The request to cut the video that ``video`` announces."""
    return VideoSplitRequested(
        media_id=video.media_id,
        project_id=video.project_id,
        sha256=video.sha256,
        object_key=video.object_key,
        content_type=video.content_type,
        device_id=video.device_id,
        deployment_id=video.deployment_id,
        captured_at=video.captured_at,
        uploaded_by=video.uploaded_by,
        filename=video.filename,
    )
