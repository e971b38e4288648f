"""``ingest.derivatives.requested``: make an original's thumbnail and display copy, once per
content hash.

The objects themselves are the record of what was done: derivatives live under the hash, so
the same bytes uploaded to a second project (or a redelivered request) find them in place and
do nothing. The work needs no database, so it holds no transaction open while it decodes.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import structlog
from PIL import Image, UnidentifiedImageError

from wildlens.common.events.v1.ingest_pb2 import DerivativesRequested
from wildlens.common.storage import ObjectStore, display_key, thumbnail_key
from wildlens.ingest.derivatives.images import render_derivatives
from wildlens.ingest.settings import IngestSettings

__all__ = [
    "derivatives_requested",
    "display_key",
    "make_derivatives",
    "thumbnail_key",
]

log = structlog.get_logger(__name__)


def derivatives_requested(sha256: str, object_key: str, content_type: str) -> DerivativesRequested:
    return DerivativesRequested(sha256=sha256, object_key=object_key, content_type=content_type)


async def make_derivatives(
    store: ObjectStore, limits: IngestSettings, request: DerivativesRequested
) -> bool:
    """Make the derivatives of one original unless they exist, sized by ``limits``; ``True``
    if they were made."""
    # The thumbnail is written last, so its presence means both are complete.
    if await store.exists(thumbnail_key(request.sha256)):
        return False
    with tempfile.TemporaryDirectory(prefix="wildlens-derive-") as folder:
        source = Path(folder) / "original"
        await store.download_to(request.object_key, source)
        try:
            rendered = await asyncio.to_thread(
                render_derivatives,
                source,
                thumbnail_px=limits.thumbnail_px,
                display_px=limits.display_px,
            )
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
            # Retrying cannot make an undecodable original decodable (HEIC on a server
            # without a HEIF decoder): say so once rather than dead-lettering the request.
            log.warning(
                "derivatives.undecodable",
                sha256=request.sha256,
                content_type=request.content_type,
                error=str(exc),
            )
            return False
    await store.put_bytes(display_key(request.sha256), rendered.display, "image/jpeg")
    await store.put_bytes(thumbnail_key(request.sha256), rendered.thumbnail, "image/jpeg")
    log.info("derivatives.made", sha256=request.sha256)
    return True
