"""``media.imported``: an original the catalogue stored from an import is held like an
upload's, and gets the thumbnail and GPS-free display copy an uploaded image gets.

Without the row, ingest would know nothing of the file: the sweep of unreferenced originals
would take it, and a failed upload of the same bytes would remove it as its own. Without the
derivatives, callers without ``precise_locations`` would never get the image.
"""

from __future__ import annotations

import uuid

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.events.v1.ingest_pb2 import DerivativesRequested
from wildlens.common.events.v1.media_pb2 import MediaImported, MediaKind
from wildlens.common.service import ServiceBus
from wildlens.common.storage import ObjectStore
from wildlens.ingest.derivatives.jobs import derivatives_requested
from wildlens.ingest.imports import repository
from wildlens.ingest.models import ImportedMedia
from wildlens.ingest.objects import hold_content, original_sha256

__all__ = ["hold_imported"]

log = structlog.get_logger(__name__)

# Kinds with a display copy; a video's original goes to holders of ``precise_locations`` only.
_PICTURES = frozenset({MediaKind.MEDIA_KIND_IMAGE, MediaKind.MEDIA_KIND_FRAME})


async def hold_imported(
    session: AsyncSession, store: ObjectStore, bus: ServiceBus, event: MediaImported
) -> bool:
    """Record the imported medium as holding its original and, for a picture, stage the
    request for its derivatives (in ``session``'s transaction); ``False`` when there is no
    original of ingest's to hold."""
    if original_sha256(event.object_key) != event.sha256:
        # Only keys laid out as originals under their own hash: a key elsewhere is not
        # ingest's to hold, nor to derive from.
        log.warning("media.imported_unexpected_key", media_id=event.media_id, key=event.object_key)
        return False
    # Takes turns with a removal of the same bytes (``objects.hold_content``); on SQLite the
    # unit of work has written already (the event marked as handled), which takes turns there.
    await hold_content(session, event.sha256)
    if not await store.exists(event.object_key):
        # Removed already: the medium was deleted, and its removal delivered, before this
        # announcement arrived. There is nothing to hold, nor to derive.
        log.info("media.imported_already_removed", media_id=event.media_id)
        return False
    await repository.record_imported(
        session,
        ImportedMedia(
            id=uuid.UUID(event.media_id),
            project_id=uuid.UUID(event.project_id),
            sha256=event.sha256,
            object_key=event.object_key,
            content_type=event.content_type,
        ),
    )
    if event.kind in _PICTURES:
        # Asked again for a medium recorded before (a package imported again): the request
        # is idempotent by hash, and repairs a copy an earlier request could not make.
        await bus.stage(session, [_request(event)])
    return True


def _request(event: MediaImported) -> DerivativesRequested:
    return derivatives_requested(event.sha256, event.object_key, event.content_type)
