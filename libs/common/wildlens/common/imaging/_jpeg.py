"""A crop as the JPEG bytes training stores: upright, square, RGB, and nothing but pixels.

Crops are cached in object storage and exported to people who train elsewhere, so they carry
no metadata from the original: EXIF (GPS of sensitive places, camera serials), ICC profiles
and comments stay behind, because the crop is re-encoded from its pixels alone.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from wildlens.common.imaging._crops import CONTEXT, square_crop

__all__ = ["JPEG_QUALITY", "crop_jpeg", "upright"]

# High enough that recompression does not teach a classifier JPEG artefacts of its own.
JPEG_QUALITY = 92

_ORIENTATION = 0x0112


def upright(image: Image.Image) -> Image.Image:
    """The image as people see it (EXIF orientation applied), where boxes are drawn."""
    if image.getexif().get(_ORIENTATION, 1) not in (0, 1):
        transposed = ImageOps.exif_transpose(image)
        if transposed is not None:
            return transposed
    return image


def crop_jpeg(
    image: Image.Image | bytes,
    bbox: tuple[float, float, float, float],
    *,
    context: float = CONTEXT,
    quality: int = JPEG_QUALITY,
    size: int | None = None,
) -> bytes:
    """The square crop around ``bbox`` (relative ``[x, y, w, h]`` on the upright image) as
    JPEG bytes without EXIF.

    Args:
        image: a decoded image or the bytes of an encoded one.
        bbox: the box, relative ``[x, y, w, h]`` with a top-left origin.
        context: margin on each side as a share of the box's longer side.
        quality: JPEG quality of the re-encoded crop.
        size: the side to resize the square to; None keeps the crop's own size.
    """
    if isinstance(image, bytes):
        with Image.open(io.BytesIO(image)) as opened:
            opened.load()
            return crop_jpeg(opened, bbox, context=context, quality=quality, size=size)
    crop = square_crop(upright(image), bbox, context=context)
    if size is not None and crop.size != (size, size):
        crop = crop.resize((size, size), Image.Resampling.BILINEAR)
    # A fresh image from the pixels alone: nothing of the original's info dict travels.
    clean = Image.frombytes("RGB", crop.size, crop.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
