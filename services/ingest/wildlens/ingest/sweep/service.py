"""Removing stored objects that nothing refers to.

An original is stored before the transaction that records its medium commits (a large one
before it begins). A failed transaction removes it again (``uploads.unit``), but a process cut
off between the two (a pod killed, the database gone) leaves an original no medium holds, kept
until the same bytes are posted again.
Likewise a file PUT to a bulk upload's staging area after its file was settled, or to an
upload whose rows are gone, is verified by nothing. The sweep finds both and removes them.

Why a held object is never removed, whichever replicas sweep and upload at the same time:

* The reference is checked again right before the removal, in a transaction that holds the
  content's lock (``objects.hold_content``; on SQLite a write first, which makes it the one
  writer). An upload of the same bytes records its medium under that same lock and only then
  writes a small original, or looks whether a large one is still stored, putting it back if
  not. So either the sweep goes first (removes, commits; the upload then stores it again) or
  the upload does (its row is there; the sweep leaves the object).
* The grace age covers what the lock cannot: an original stored by an upload whose
  transaction has not begun yet, and one the catalogue stored from an import, which ingest
  hears of only when ``media.imported`` arrives (the catalogue writes the file afresh on each
  import, so that its age counts from that import). Objects younger than the grace age are
  never looked at; the age is read again under the lock, so that one written anew since the
  listing is left too.
* Removing is idempotent: two replicas sweeping at once remove the same object twice, which
  is no error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from wildlens.common.db import Database, utcnow
from wildlens.common.events.v1.media_pb2 import MediaDeleted, MediaKind
from wildlens.common.storage import ObjectInfo, ObjectNotFound, ObjectStore
from wildlens.ingest.metrics import ORPHANS_SWEPT
from wildlens.ingest.objects import ORIGINALS_PREFIX, hold_content, holders, original_sha256
from wildlens.ingest.removal import stored_files
from wildlens.ingest.sweep import repository

__all__ = ["STAGING_PREFIX", "SweepResult", "sweep_orphans"]

log = structlog.get_logger(__name__)

STAGING_PREFIX = "staging/"


@dataclass(frozen=True)
class SweepResult:
    """How many objects one sweep removed: originals (each with what was derived from it)
    and staging objects."""

    originals: int = 0
    staging: int = 0


def _old(info: ObjectInfo, cutoff: datetime) -> bool:
    # A backend that does not say when an object was written: never old enough.
    return info.modified is not None and info.modified <= cutoff


async def sweep_orphans(
    database: Database, store: ObjectStore, *, grace: timedelta, now: datetime | None = None
) -> SweepResult:
    """Remove the originals and staging objects older than ``grace`` that nothing holds."""
    cutoff = (now or utcnow()) - grace
    originals = 0
    for info in await store.list(ORIGINALS_PREFIX):
        sha256 = original_sha256(info.key)
        if sha256 is not None and _old(info, cutoff):
            originals += await _sweep_original(database, store, info, sha256, cutoff)
    staging = 0
    for info in await store.list(STAGING_PREFIX):
        if _old(info, cutoff):
            staging += await _sweep_staging(database, store, info)
    if originals or staging:
        log.info("sweep.removed", originals=originals, staging=staging)
    ORPHANS_SWEPT.labels("original").inc(originals)
    ORPHANS_SWEPT.labels("staging").inc(staging)
    return SweepResult(originals, staging)


async def _sweep_original(
    database: Database, store: ObjectStore, info: ObjectInfo, sha256: str, cutoff: datetime
) -> int:
    async with database.transaction() as session:
        await hold_content(session, sha256)
        await repository.take_write_turn(session, sha256)
        if await holders(session, sha256):
            return 0
        try:
            # Written again since the listing (an import of the same bytes): young again.
            if not _old(await store.stat(info.key), cutoff):
                return 0
        except ObjectNotFound:
            return 0  # another replica's sweep, or a removal, got there first
        video = info.content_type.startswith("video/")
        kind = MediaKind.MEDIA_KIND_VIDEO if video else MediaKind.MEDIA_KIND_IMAGE
        gone = MediaDeleted(sha256=sha256, object_key=info.key, kind=kind)
        # Inside the transaction, so the lock is held until every file is gone.
        for key in await stored_files(store, gone):
            await store.delete(key)
    log.info("sweep.original_removed", sha256=sha256, key=info.key)
    return 1


async def _sweep_staging(database: Database, store: ObjectStore, info: ObjectInfo) -> int:
    parts = info.key.split("/")
    try:
        upload_id, n = uuid.UUID(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return 0  # not laid out as ingest lays staging objects out: not ours to judge
    async with database.transaction() as session:
        if await repository.awaited_staging(session, upload_id, n):
            # A file its upload's completion will verify: the client's work in progress.
            return 0
    await store.delete(info.key)
    return 1
