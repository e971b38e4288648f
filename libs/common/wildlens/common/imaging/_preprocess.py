"""Turning images into model input, and model boxes back into image coordinates.

Letterboxing keeps the aspect ratio and pads to the input size, centred, as the YOLO family
(MegaDetector included) was trained; plain resizing stretches. Both are described by one
``Letterbox`` transform, whose inverse maps boxes from input pixels to relative ``[x, y, w, h]``
with a top-left origin, the convention of MegaDetector output and Camtrap DP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from wildlens.common.bundles import InputSpec

__all__ = ["Letterbox", "fit", "preprocess", "preprocess_batch", "to_tensor"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where the original image sits inside the model input.

    ``scale_x``/``scale_y`` come from the resized size actually produced (rounded to whole
    pixels), not the ideal ratio, so the inverse is exact.
    """

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    orig_width: int
    orig_height: int
    input_width: int
    input_height: int

    @classmethod
    def plan(cls, width: int, height: int, spec: InputSpec) -> Letterbox:
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        if not spec.letterbox:
            return cls(
                spec.width / width,
                spec.height / height,
                0,
                0,
                width,
                height,
                spec.width,
                spec.height,
            )
        ratio = min(spec.width / width, spec.height / height)
        new_w = min(spec.width, max(1, round(width * ratio)))
        new_h = min(spec.height, max(1, round(height * ratio)))
        return cls(
            new_w / width,
            new_h / height,
            (spec.width - new_w) // 2,
            (spec.height - new_h) // 2,
            width,
            height,
            spec.width,
            spec.height,
        )

    @property
    def resized_size(self) -> tuple[int, int]:
        return round(self.orig_width * self.scale_x), round(self.orig_height * self.scale_y)

    def to_input_xyxy(self, boxes_xyxy: npt.ArrayLike) -> FloatArray:
        """Boxes in original-image pixels ``[N, 4]`` xyxy to model-input pixels."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y])
        pad = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y])
        result: FloatArray = (boxes * scale + pad).astype(np.float32)
        return result

    def to_relative_xywh(self, boxes_xyxy: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Boxes in model-input pixels ``[N, 4]`` xyxy to relative ``[x, y, w, h]``.

        Clipped to the image: a box reaching into the padding ends at the image edge.
        """
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        new_w, new_h = self.resized_size
        x1 = np.clip((boxes[:, 0] - self.pad_x) / new_w, 0.0, 1.0)
        y1 = np.clip((boxes[:, 1] - self.pad_y) / new_h, 0.0, 1.0)
        x2 = np.clip((boxes[:, 2] - self.pad_x) / new_w, 0.0, 1.0)
        y2 = np.clip((boxes[:, 3] - self.pad_y) / new_h, 0.0, 1.0)
        return np.stack([x1, y1, np.maximum(x2 - x1, 0.0), np.maximum(y2 - y1, 0.0)], axis=1)


def fit(image: Image.Image, spec: InputSpec) -> tuple[Image.Image, Letterbox]:
    """Resize (and pad, when letterboxing) an RGB image to the model input size."""
    transform = Letterbox.plan(image.width, image.height, spec)
    size = transform.resized_size
    # reducing_gap lets PIL shrink multi-megapixel camera-trap frames in two cheap steps;
    # at 3.0 the result is indistinguishable from a full bilinear resample.
    resized = (
        image
        if size == image.size
        else image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    )
    if not spec.letterbox:
        return resized, transform
    canvas = Image.new("RGB", (spec.width, spec.height), (spec.pad_value,) * 3)
    canvas.paste(resized, (transform.pad_x, transform.pad_y))
    return canvas, transform


def to_tensor(image: Image.Image, spec: InputSpec) -> FloatArray:
    """An RGB image of the input size as a normalised ``[3, H, W]`` float32 array."""
    pixels = np.asarray(image, dtype=np.float32)
    if spec.channel_order == "BGR":
        pixels = pixels[:, :, ::-1]
    # (p * scale - mean) / std, folded into one multiply and one add.
    std = np.asarray(spec.std, dtype=np.float32)
    mul = np.float32(spec.scale) / std
    add = -np.asarray(spec.mean, dtype=np.float32) / std
    normalised = pixels * mul + add
    return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)


def preprocess(image: Image.Image, spec: InputSpec) -> tuple[FloatArray, Letterbox]:
    """One image to a ``[3, H, W]`` tensor and the transform that placed it."""
    fitted, transform = fit(image if image.mode == "RGB" else image.convert("RGB"), spec)
    return to_tensor(fitted, spec), transform


def preprocess_batch(
    images: Sequence[Image.Image], spec: InputSpec
) -> tuple[FloatArray, list[Letterbox]]:
    """Images to one ``[N, 3, H, W]`` tensor and a transform per image."""
    tensors: list[FloatArray] = []
    transforms: list[Letterbox] = []
    for image in images:
        tensor, transform = preprocess(image, spec)
        tensors.append(tensor)
        transforms.append(transform)
    if not tensors:
        return np.zeros((0, 3, spec.height, spec.width), dtype=np.float32), []
    return np.stack(tensors), transforms
