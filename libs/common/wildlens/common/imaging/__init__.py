"""Image geometry both training and serving depend on: square crops with context around
detection boxes, and those crops as clean JPEG bytes."""

from wildlens.common.imaging._crops import CONTEXT, CropBox, crop_box, square_crop
from wildlens.common.imaging._jpeg import JPEG_QUALITY, crop_jpeg, upright

__all__ = [
    "CONTEXT",
    "JPEG_QUALITY",
    "CropBox",
    "crop_box",
    "crop_jpeg",
    "square_crop",
    "upright",
]
