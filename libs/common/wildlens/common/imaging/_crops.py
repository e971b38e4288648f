"""Square crops around detections, with context, as the field's classifiers were trained on.

One implementation for training and serving: a classifier sees at inference exactly the
geometry it was trained on.

MegaDetector's classifier tools (and SpeciesNet after them) crop each animal box to a square
before classifying: the animal keeps its shape instead of being stretched to the classifier's
square input, and a margin of context around it (vegetation, water, the ground) helps tell
look-alike species apart. Here the square is centred on the box, grown by a share of its
longer side, moved inside the image where it overhangs an edge, and only where the image is
too small for it, clamped and padded back to a square with black, so every crop has the
box's aspect ratio undistorted.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageOps

__all__ = ["CONTEXT", "CropBox", "crop_box", "square_crop"]

# Context on every side, as a share of the box's longer side.
CONTEXT = 0.15


@dataclass(frozen=True, slots=True)
class CropBox:
    """A crop in image pixels: ``[left, top, right, bottom)`` inside the image, and the side of
    the square it is padded to (equal to the crop's own size unless the image was too small)."""

    left: int
    top: int
    right: int
    bottom: int
    side: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def _place(start: float, side: int, limit: int) -> tuple[int, int]:
    """An interval of ``side`` pixels starting near ``start``, moved to lie within
    ``[0, limit)``; clamped to the image where it is longer than the image."""
    if side >= limit:
        return 0, limit
    first = min(max(round(start), 0), limit - side)
    return first, first + side


def crop_box(
    bbox: tuple[float, float, float, float], width: int, height: int, *, context: float = CONTEXT
) -> CropBox:
    """The square crop for a relative ``[x, y, w, h]`` box in a ``width`` by ``height`` image.

    Args:
        bbox: the detection, relative ``[x, y, w, h]`` with a top-left origin.
        width: the image width in pixels.
        height: the image height in pixels.
        context: margin on each side as a share of the box's longer side.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if context < 0:
        raise ValueError(f"context must not be negative, got {context}")
    x, y, w, h = bbox
    box_w, box_h = w * width, h * height
    side = max(1, round(max(box_w, box_h) * (1 + 2 * context)))
    centre_x, centre_y = (x + w / 2) * width, (y + h / 2) * height
    left, right = _place(centre_x - side / 2, side, width)
    top, bottom = _place(centre_y - side / 2, side, height)
    return CropBox(left, top, right, bottom, max(right - left, bottom - top))


def square_crop(
    image: Image.Image,
    bbox: tuple[float, float, float, float],
    *,
    context: float = CONTEXT,
) -> Image.Image:
    """The square RGB crop of ``image`` around ``bbox`` (see :func:`crop_box`); ``image``
    itself where that is the whole of an RGB square (a single object's vignette)."""
    box = crop_box(bbox, image.width, image.height, context=context)
    if (box.left, box.top, box.right, box.bottom) == (0, 0, image.width, image.height):
        crop = image  # cutting the whole image would only copy it
    else:
        crop = image.crop((box.left, box.top, box.right, box.bottom))
    if crop.mode != "RGB":
        crop = crop.convert("RGB")
    if box.width != box.height:
        # Only where the image is smaller than the square: pad rather than stretch.
        crop = ImageOps.pad(crop, (box.side, box.side), color=(0, 0, 0))
    return crop
