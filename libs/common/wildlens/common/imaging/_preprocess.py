"""Turning images into model input, and model boxes back into image coordinates.

Letterboxing keeps the aspect ratio and pads to the input size, centred, as the YOLO family
(MegaDetector included) was trained; plain resizing stretches. Both are described by one
``Letterbox`` transform, whose inverse maps boxes from input pixels to relative ``[x, y, w, h]``
with a top-left origin, the convention of MegaDetector output and Camtrap DP.

A model whose ONNX input takes any height and width is letterboxed *rectangularly*: the image
is scaled exactly as for the square input, then padded only up to the next multiple of the
model's stride (a 2048x1440 frame at 640 px becomes 640x480, not 640x640), as Ultralytics
does; the network then computes a quarter fewer pixels for the same boxes.

The path from the decoder to the tensor copies as little as it can: JPEGs are decoded at a
reduced scale (``draft``) that is never smaller than the letterboxed image, the resized pixels
are normalised straight into the tensor (channels first), and the padding is written as its
normalised value rather than drawn on a canvas and normalised with the image.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from wildlens.common.bundles import InputSpec

__all__ = [
    "Letterbox",
    "draft_for",
    "fit",
    "preprocess",
    "preprocess_batch",
    "to_tensor",
]

FloatArray = npt.NDArray[np.float32]

_ORIENTATION = 0x0112
# EXIF orientations that swap width and height once applied.
_TRANSPOSED = (5, 6, 7, 8)


def _ceil_to(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


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
    def plan(
        cls, width: int, height: int, spec: InputSpec, *, rectangular: bool = False
    ) -> Letterbox:
        """The transform for a ``width`` by ``height`` image.

        Args:
            rectangular: pad only to the next multiple of ``spec.stride`` on each side (for
                models whose input takes any height and width) instead of to the full
                ``spec.width`` by ``spec.height``; the image is scaled the same either way.
        """
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
        input_w, input_h = spec.width, spec.height
        if rectangular:
            input_w = min(spec.width, _ceil_to(new_w, spec.stride))
            input_h = min(spec.height, _ceil_to(new_h, spec.stride))
        return cls(
            new_w / width,
            new_h / height,
            (input_w - new_w) // 2,
            (input_h - new_h) // 2,
            width,
            height,
            input_w,
            input_h,
        )

    @property
    def resized_size(self) -> tuple[int, int]:
        return round(self.orig_width * self.scale_x), round(self.orig_height * self.scale_y)

    @property
    def input_size(self) -> tuple[int, int]:
        """The model input, ``(width, height)``."""
        return self.input_width, self.input_height

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


def draft_for(image: Image.Image, spec: InputSpec) -> bool:
    """Ask a JPEG not yet loaded to decode at the smallest DCT scale (1/2, 1/4, 1/8) that is
    still at least the size the letterbox resizes it to; other formats decode in full.

    Boxes are relative, so they do not change; ``image.size`` afterwards is the reduced size.
    Returns whether the decoder was told to reduce.
    """
    if image.format != "JPEG":
        return False
    width, height = image.size
    if image.getexif().get(_ORIENTATION, 1) in _TRANSPOSED:
        width, height = height, width  # the letterbox is planned on the upright image
    plan = Letterbox.plan(width, height, spec)
    target_w, target_h = plan.resized_size
    if (width, height) != image.size:
        target_w, target_h = target_h, target_w
    if target_w * 2 > image.width or target_h * 2 > image.height:
        return False  # not even half the size: nothing to gain
    mode = "RGB" if image.mode in ("RGB", "YCbCr") else image.mode
    return image.draft(mode, (target_w, target_h)) is not None


@functools.lru_cache(maxsize=64)
def _folded(
    scale: float, mean: tuple[float, ...], std: tuple[float, ...]
) -> tuple[FloatArray, FloatArray]:
    std_ = np.asarray(std, dtype=np.float32)
    mul = (np.float32(scale) / std_).astype(np.float32)
    add = (-np.asarray(mean, dtype=np.float32) / std_).astype(np.float32)
    # Shared between calls: nobody may write to them.
    mul.flags.writeable = False
    add.flags.writeable = False
    return mul, add


def _normalisation(spec: InputSpec) -> tuple[FloatArray, FloatArray]:
    """(p * scale - mean) / std folded into one multiply and one add, per input channel;
    worked out once per normalisation, not for every image."""
    return _folded(spec.scale, tuple(spec.mean), tuple(spec.std))


def _resized(image: Image.Image, transform: Letterbox) -> Image.Image:
    size = transform.resized_size
    if size == image.size:
        return image
    # reducing_gap lets PIL shrink multi-megapixel camera-trap frames in two cheap steps;
    # at 3.0 the result is indistinguishable from a full bilinear resample.
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def _write_pixels(out: FloatArray, image: Image.Image, spec: InputSpec) -> None:
    """Normalise an RGB or grey (``L``) image into ``out`` (``[3, h, w]``, a view of the
    tensor) in place; a grey image's one channel is each of the three."""
    mul, add = _normalisation(spec)
    if image.mode == "L":
        channels_first = np.asarray(image)[None]  # broadcast to the three channels
    else:
        channels_first = np.asarray(image).transpose(2, 0, 1)  # a view: no copy
    if spec.channel_order == "BGR" and image.mode != "L":
        channels_first = channels_first[::-1]
    np.multiply(channels_first, mul[:, None, None], out=out)
    np.add(out, add[:, None, None], out=out)


def fit(
    image: Image.Image, spec: InputSpec, *, rectangular: bool = False
) -> tuple[Image.Image, Letterbox]:
    """Resize (and pad, when letterboxing) an RGB image to the model input size."""
    transform = Letterbox.plan(image.width, image.height, spec, rectangular=rectangular)
    resized = _resized(image, transform)
    if not spec.letterbox:
        return resized, transform
    canvas = Image.new("RGB", transform.input_size, (spec.pad_value,) * 3)
    canvas.paste(resized, (transform.pad_x, transform.pad_y))
    return canvas, transform


def to_tensor(image: Image.Image, spec: InputSpec) -> FloatArray:
    """An RGB image of the input size as a normalised ``[3, H, W]`` float32 array."""
    tensor = np.empty((3, image.height, image.width), dtype=np.float32)
    _write_pixels(tensor, image, spec)
    return tensor


def preprocess(
    image: Image.Image, spec: InputSpec, *, rectangular: bool = False
) -> tuple[FloatArray, Letterbox]:
    """One image to a ``[3, H, W]`` tensor and the transform that placed it.

    A grey image is resized as it is and its one channel written to all three: the same
    numbers as from its RGB conversion (PIL resamples each band alike), for a third of the
    resampling (plankton imagers' vignettes are grey).

    Args:
        rectangular: see :meth:`Letterbox.plan`; only for models taking any input size.
    """
    rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
    transform = Letterbox.plan(rgb.width, rgb.height, spec, rectangular=rectangular)
    resized = _resized(rgb, transform)
    new_w, new_h = resized.size
    tensor = np.empty((3, transform.input_height, transform.input_width), dtype=np.float32)
    if (new_w, new_h) != transform.input_size:
        # The padding, as the pad value would come out of the normalisation.
        mul, add = _normalisation(spec)
        pad = np.float32(spec.pad_value) * mul + add
        tensor[...] = pad[:, None, None]
    region = tensor[
        :, transform.pad_y : transform.pad_y + new_h, transform.pad_x : transform.pad_x + new_w
    ]
    _write_pixels(region, resized, spec)
    return tensor, transform


def preprocess_batch(
    images: Sequence[Image.Image], spec: InputSpec, *, rectangular: bool = False
) -> tuple[FloatArray, list[Letterbox]]:
    """Images to one ``[N, 3, H, W]`` tensor and a transform per image.

    With ``rectangular``, the images must letterbox to one shape (as a deployment's do).
    """
    tensors: list[FloatArray] = []
    transforms: list[Letterbox] = []
    for image in images:
        tensor, transform = preprocess(image, spec, rectangular=rectangular)
        tensors.append(tensor)
        transforms.append(transform)
    if not tensors:
        return np.zeros((0, 3, spec.height, spec.width), dtype=np.float32), []
    if len({t.shape for t in tensors}) > 1:
        raise ValueError("images of different shapes after letterboxing cannot share a batch")
    return np.stack(tensors), transforms
