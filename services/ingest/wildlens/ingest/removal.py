"""``media.deleted``: a medium the catalogue removed; forget its upload and remove the stored
files nothing else uses.

Forgetting the upload matters on its own: the same bytes posted to the project again are then
a new medium, not a duplicate of one that no longer exists.

Files are content-addressed, so one original may serve several media. The catalogue says
whether the removed medium was the last one with those bytes (``last_copy``); an upload of
the same bytes that ingest holds and the catalogue has not recorded yet keeps them too. The
files then go: the original, its display copy and thumbnail, and for a video everything cut
from it (frames, clips, their manifest, the frames' derivatives), which live under the
video's hash and so go with the video rather than with each frame.
"""

from __future__ import annotations

import json
import uuid

import structlog
from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.events.v1.media_pb2 import MediaDeleted, MediaKind
from wildlens.common.storage import ObjectNotFound, ObjectStore
from wildlens.ingest.derivatives.jobs import display_key, thumbnail_key
from wildlens.ingest.models import ImportedMedia, IngestedMedia
from wildlens.ingest.objects import hold_content, holders
from wildlens.ingest.video.jobs import manifest_key

__all__ = ["forget_media", "stored_files"]

log = structlog.get_logger(__name__)


async def forget_media(store: ObjectStore, session: AsyncSession, event: MediaDeleted) -> int:
    """Forget the upload of the removed medium and remove its files where nothing else uses
    them (inside ``session``'s transaction: a failure comes back by redelivery, and removing
    a file twice is no error); answers how many files were removed."""
    if event.parent_media_id:
        return 0  # a frame or clip: its files go with its video's
    if event.sha256:
        await hold_content(session, event.sha256)
    media_id, project_id = uuid.UUID(event.media_id), uuid.UUID(event.project_id)
    # An upload, or an import whose file the catalogue stored (``media.imported``).
    for table in (IngestedMedia, ImportedMedia):
        await session.exec(
            delete(table).where(col(table.id) == media_id, col(table.project_id) == project_id)
        )
    if not event.last_copy or not event.sha256:
        return 0
    if await holders(session, event.sha256):
        return 0  # another upload of the same bytes, not recorded yet
    keys = await stored_files(store, event)
    for key in keys:
        await store.delete(key)
    log.info("media.files_removed", media_id=event.media_id, sha256=event.sha256, files=len(keys))
    return len(keys)


async def stored_files(store: ObjectStore, event: MediaDeleted) -> list[str]:
    """The keys of everything stored for the medium's bytes."""
    keys = [event.object_key] if event.object_key else []
    if event.kind != MediaKind.MEDIA_KIND_VIDEO:
        return [*keys, display_key(event.sha256), thumbnail_key(event.sha256)]
    cut = [o.key for o in await store.list(f"frames/{event.sha256}/")]
    # The frames' derivatives live under the frames' own hashes, which the manifest lists;
    # it goes last, so that a removal interrupted half-way still finds them next time.
    frames = await _frame_hashes(store, event.sha256)
    derived = [k for sha in frames for k in (display_key(sha), thumbnail_key(sha))]
    manifest = manifest_key(event.sha256)
    return [*keys, *derived, *(k for k in cut if k != manifest), manifest]


async def _frame_hashes(store: ObjectStore, video_sha256: str) -> list[str]:
    try:
        body = json.loads(await store.get_bytes(manifest_key(video_sha256)))
    except ObjectNotFound:
        return []
    except ValueError:
        log.warning("media.unreadable_manifest", sha256=video_sha256)
        return []
    return [c["sha256"] for c in body.get("children", []) if c.get("kind") == "frame"]
