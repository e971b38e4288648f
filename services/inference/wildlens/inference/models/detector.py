"""The detector: images in, animal/person/vehicle boxes out, relative to each image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from wildlens.common.bundles import DecodeConfig, RawDetection, decode
from wildlens.common.imaging import Letterbox, draft_for, preprocess
from wildlens.inference.models.base import InferenceModel

__all__ = ["Detection", "Detector", "Prepared"]


@dataclass(frozen=True, slots=True)
class Detection:
    """One box: its category name, confidence, and ``bbox`` as relative ``[x, y, w, h]``
    (top-left origin), as MegaDetector output and Camtrap DP express it."""

    category: str
    confidence: float
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Prepared:
    """An image as a model input tensor ``[3, H, W]`` and the letterbox that placed it."""

    tensor: npt.NDArray[np.float32]
    transform: Letterbox

    @property
    def shape(self) -> tuple[int, int]:
        """The input's ``(height, width)``: images batch together only when it is the same."""
        return self.transform.input_height, self.transform.input_width


class Detector(InferenceModel):
    """Args (besides :class:`InferenceModel`'s):
    rectangular: letterbox to the smallest rectangle of stride multiples that holds the image
        when the ONNX input takes any height and width; False: always the manifest's full
        size. Square-input models are fed squares either way.
    """

    kind = "detector"

    def __init__(self, *args: Any, rectangular: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rectangular = rectangular

    @property
    def rectangular(self) -> bool:
        """Whether images are letterboxed to rectangles (loads the model to know)."""
        return self._rectangular and self.manifest.input.letterbox and self.takes_any_size

    def draft(self, image: Image.Image) -> None:
        """Let a JPEG not yet loaded decode at the smallest scale this model can use."""
        draft_for(image, self.manifest.input)

    def prepare(self, image: Image.Image) -> Prepared:
        """One decoded image as this model's input, and where the image sits in it.

        Blocking and independent of other images: decoding threads call it in parallel while
        the model runs the previous batch.
        """
        # Cameras store portrait shots rotated with an orientation tag; boxes must be relative
        # to the image as people see it.
        tensor, transform = preprocess(
            _upright_rgb(image), self.manifest.input, rectangular=self.rectangular
        )
        return Prepared(tensor, transform)

    def detect_prepared(self, prepared: Sequence[Prepared]) -> list[list[Detection]]:
        """Detections for prepared images, in order. Blocking: run it in an executor."""
        manifest = self.manifest
        assert manifest.decoder is not None  # the manifest schema requires it for detectors
        config = DecodeConfig.from_manifest(manifest)
        # A label naming a taxon (a detector trained on a project's species) finds an animal:
        # its boxes are recorded and classified as any detector's animals are.
        labels = ["animal" if label.scientific_name else label.label for label in manifest.labels]
        results: list[list[Detection]] = [[] for _ in prepared]
        # One run per input shape: rectangular letterboxes differ between image sizes.
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, item in enumerate(prepared):
            by_shape.setdefault(item.shape, []).append(index)
        for indices in by_shape.values():
            for chunk in self._chunks(len(indices)):
                part = [prepared[i] for i in indices[chunk]]
                outputs = self._run(np.stack([p.tensor for p in part]))
                found = decode(manifest.decoder, outputs, config)
                for index, raw, item in zip(indices[chunk], found, part, strict=True):
                    results[index] = self._mapped(raw, item, labels)
        return results

    @staticmethod
    def _mapped(
        raw: Sequence[RawDetection], item: Prepared, labels: Sequence[str]
    ) -> list[Detection]:
        """Decoded boxes in model-input pixels as detections relative to the image."""
        found: list[Detection] = []
        if not raw:
            return found
        boxes = item.transform.to_relative_xywh([d.box_xyxy for d in raw])
        for detection, box in zip(raw, boxes, strict=True):
            # A box lying wholly in the letterbox padding is no box at all.
            if box[2] <= 0 or box[3] <= 0:
                continue
            found.append(
                Detection(
                    category=labels[detection.label_index],
                    confidence=detection.score,
                    bbox=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                )
            )
        return found

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        """Detections for each image, in the order given. Blocking: run it in an executor."""
        return self.detect_prepared([self.prepare(image) for image in images])

    def warm(self) -> None:
        """Load, and run once on a blank input, so the first real batch pays no set-up cost."""
        spec = self.manifest.input
        blank = Image.new("RGB", (spec.width, spec.height), (spec.pad_value,) * 3)
        self.detect([blank])
        if self.rectangular:
            # Camera traps shoot 4:3 and 3:2 frames: warm the rectangle those take as well.
            self.detect([blank.resize((spec.width, spec.height * 3 // 4))])


_ORIENTATION = 0x0112


def _upright_rgb(image: Image.Image) -> Image.Image:
    """The image as people see it, in RGB, copying the pixels only when something changes:
    full-size copies of multi-megapixel frames are a real share of the per-image cost."""
    if image.getexif().get(_ORIENTATION, 1) not in (0, 1):
        image = ImageOps.exif_transpose(image)
    return image if image.mode == "RGB" else image.convert("RGB")
