"""One upload's unit of work: a single transaction, and the originals the upload stored.

Everything an upload records (its medium, its idempotency key, its announcements in the
outbox) is written in one transaction, committed once, before the answer. A large original is
stored before the transaction begins, so that no connection is held while the bytes are
copied; a small one inside it, once its medium is recorded (``uploads.service``). When the
transaction rolls back instead, an original stored by the upload that no medium holds is
removed again, so a failed upload leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db import Database
from wildlens.common.service import ServiceBus
from wildlens.common.storage import ObjectStore
from wildlens.ingest.objects import hold_content, holders
from wildlens.ingest.uploads import repository

__all__ = ["StoredOriginal", "UploadUnit", "upload_unit"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StoredOriginal:
    """An original written to storage for the medium ``media_id`` about to be recorded."""

    media_id: uuid.UUID
    sha256: str
    key: str


@dataclass
class UploadUnit:
    """What an upload writes through: the transaction it is recorded in (callers flush, never
    commit), the store its original went to (``stored``: what to remove again if the
    transaction rolls back), and the outbox its announcements are staged in (sent after the
    commit)."""

    session: AsyncSession
    store: ObjectStore
    bus: ServiceBus
    stored: list[StoredOriginal] = field(default_factory=list)


@asynccontextmanager
async def upload_unit(
    database: Database, store: ObjectStore, bus: ServiceBus, stored: StoredOriginal | None = None
) -> AsyncIterator[UploadUnit]:
    """Commit what the block recorded, once; if it raises (or the transaction cannot begin),
    roll it all back and remove the originals that no medium holds: ``stored``, written by
    the upload before the unit began, and any the block stored."""
    originals = [] if stored is None else [stored]
    try:
        async with database.transaction() as session:
            unit = UploadUnit(session, store, bus, originals)
            yield unit
    except BaseException:
        for original in originals:
            await _release(database, store, original)
        raise


async def _release(database: Database, store: ObjectStore, original: StoredOriginal) -> None:
    """Remove ``original`` unless some medium holds its bytes; a failure only leaves an
    unreferenced content-addressed object, which the next upload of the same bytes reuses."""
    try:
        async with database.transaction() as session:
            # Takes turns with a concurrent upload or removal of the same bytes (``objects``);
            # on SQLite the write before the look is what takes turns.
            await hold_content(session, original.sha256)
            # A medium whose commit reached the database although the unit saw an error is
            # kept, and with it its original.
            await repository.touch_medium(session, original.media_id)
            if await holders(session, original.sha256) == 0:
                await store.delete(original.key)
    except Exception as exc:
        log.warning(
            "upload.original_not_released", key=original.key, error=f"{type(exc).__name__}: {exc}"
        )
