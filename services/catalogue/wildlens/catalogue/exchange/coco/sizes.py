"""An image's width and height in pixels, for COCO Camera Traps' ``width``/``height``.

The catalogue's record comes first (ingest measures what it stores; a COCO import keeps what
its file gave). Where nothing was recorded and the platform holds the file (a Camtrap DP
package's own photos, say), the size is read from the file's header: only the first
chunks of the stored original are read, never the whole file.
"""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import cast

from PIL import Image, UnidentifiedImageError

from wildlens.catalogue.models import Media
from wildlens.common.storage import ObjectNotFound, ObjectStore

__all__ = ["image_size"]

# Enough for a JPEG whose EXIF block (with its thumbnail) comes before the frame header.
_CHUNK = 64 * 1024
_HEADER_LIMIT = 1024 * 1024
# Kinds whose stored file is a still picture that Pillow can measure.
_PICTURES = ("image", "frame")


def _header_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        # Not a picture, or its header runs past what was read so far.
        return None


async def _stored_size(store: ObjectStore, key: str) -> tuple[int, int] | None:
    data = b""
    try:
        # Stores hand out generators (they are to be closed with aclose() when left early).
        stream = cast(AsyncGenerator[bytes, None], store.stream(key, _CHUNK))
        async with aclosing(stream) as chunks:
            async for chunk in chunks:
                data += chunk
                size = _header_size(data)
                if size is not None or len(data) >= _HEADER_LIMIT:
                    return size
    except ObjectNotFound:
        return None
    return _header_size(data)


async def image_size(store: ObjectStore, media: Media) -> tuple[int | None, int | None]:
    """``media``'s width and height; (None, None) where neither the catalogue nor the file
    it holds tells."""
    if media.width and media.height:
        return media.width, media.height
    if not media.object_key or media.kind not in _PICTURES:
        return None, None
    size = await _stored_size(store, media.object_key)
    return size if size else (None, None)
