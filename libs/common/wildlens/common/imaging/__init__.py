"""Image geometry both training and serving depend on: square crops with context around
detection boxes, those crops as clean JPEG bytes, and images turned into a model's input as
its bundle describes (so that a model is scored in training exactly as it is served)."""

from wildlens.common.imaging._crops import CONTEXT, CropBox, crop_box, square_crop
from wildlens.common.imaging._jpeg import JPEG_QUALITY, crop_jpeg, upright
from wildlens.common.imaging._preprocess import (
    Letterbox,
    draft_for,
    fit,
    preprocess,
    preprocess_batch,
    to_tensor,
)

__all__ = [
    "CONTEXT",
    "JPEG_QUALITY",
    "CropBox",
    "Letterbox",
    "crop_box",
    "crop_jpeg",
    "draft_for",
    "fit",
    "preprocess",
    "preprocess_batch",
    "square_crop",
    "to_tensor",
    "upright",
]
