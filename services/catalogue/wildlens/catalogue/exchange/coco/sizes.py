"""An image's width and height in pixels, for COCO Camera Traps' ``width``/``height``.

The catalogue's record comes first (ingest measures what it stores; a COCO import keeps what
its file gave). Where nothing was recorded and the platform holds the file (a Camtrap DP
package's own photos, say), the size is read from the file's header: only the first
chunks of the stored original are read, never the whole file. A file the platform does not
hold has a size where its source's EXIF data gives one (Camtrap DP's ``exifData``).
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

# The file is read a chunk at a time until its header is whole, and no further than the
# limit: a JPEG's EXIF block (64 KiB at most, thumbnail included) and the other blocks before
# its frame header fit many times over.
_CHUNK = 64 * 1024
_HEADER_LIMIT = 1024 * 1024
# Kinds whose stored file is a still picture that Pillow can measure.
_PICTURES = ("image", "frame")


def _header_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        # Not a picture, its header runs past what was read so far, or it claims more pixels
        # than Pillow will open: no size, and the export goes on.
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


# EXIF tags for the picture's size, the most specific first (IFD0's ImageWidth may describe
# a thumbnail or be missing where the Exif IFD's PixelXDimension is right).
_EXIF_SIZES = (
    ("ExifImageWidth", "ExifImageHeight"),
    ("PixelXDimension", "PixelYDimension"),
    ("ImageWidth", "ImageHeight"),
    ("ImageWidth", "ImageLength"),
)


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value) or None
    return None


def _exif_size(exif: object) -> tuple[int, int] | None:
    """The size the medium's EXIF data gives, where it gives a whole one."""
    if not isinstance(exif, dict):
        return None
    for width_tag, height_tag in _EXIF_SIZES:
        width, height = _whole(exif.get(width_tag)), _whole(exif.get(height_tag))
        if width and height:
            return width, height
    return None


async def image_size(store: ObjectStore, media: Media) -> tuple[int | None, int | None]:
    """``media``'s width and height; (None, None) where neither the catalogue, nor the file
    it holds, nor the source's EXIF data tells."""
    if media.width and media.height:
        return media.width, media.height
    size = None
    if media.object_key and media.kind in _PICTURES:
        size = await _stored_size(store, media.object_key)
    elif not media.object_key:
        size = _exif_size(media.exif_data)
    return size if size else (None, None)
