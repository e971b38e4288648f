"""The detector: images in, animal/person/vehicle boxes out, relative to each image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from wildlens.common.imaging import Letterbox, preprocess
from wildlens.inference.models.base import InferenceModel
from wildlens.inference.models.decoders import DecodeConfig, decode

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


class Detector(InferenceModel):
    kind = "detector"

    def prepare(self, image: Image.Image) -> Prepared:
        """One decoded image as this model's input, and where the image sits in it.

        Blocking and independent of other images: decoding threads call it in parallel while
        the model runs the previous batch.
        """
        # Cameras store portrait shots rotated with an orientation tag; boxes must be relative
        # to the image as people see it.
        tensor, transform = preprocess(_upright_rgb(image), self.manifest.input)
        return Prepared(tensor, transform)

    def detect_prepared(self, prepared: Sequence[Prepared]) -> list[list[Detection]]:
        """Detections for prepared images, in order. Blocking: run it in an executor."""
        manifest = self.manifest
        assert manifest.decoder is not None  # the manifest schema requires it for detectors
        config = DecodeConfig.from_manifest(manifest)
        # A label naming a taxon (a detector trained on a project's species) finds an animal:
        # its boxes are recorded and classified as any detector's animals are.
        labels = ["animal" if label.scientific_name else label.label for label in manifest.labels]
        results: list[list[Detection]] = []
        for chunk in self._chunks(len(prepared)):
            part = prepared[chunk]
            outputs = self._run(np.stack([p.tensor for p in part]))
            for raw, item in zip(decode(manifest.decoder, outputs, config), part, strict=True):
                found: list[Detection] = []
                if raw:
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
                results.append(found)
        return results

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        """Detections for each image, in the order given. Blocking: run it in an executor."""
        return self.detect_prepared([self.prepare(image) for image in images])

    def warm(self) -> None:
        """Load, and run once on a blank input, so the first real batch pays no set-up cost."""
        spec = self.manifest.input
        blank = Image.new("RGB", (spec.width, spec.height), (spec.pad_value,) * 3)
        self.detect([blank])


_ORIENTATION = 0x0112


def _upright_rgb(image: Image.Image) -> Image.Image:
    """The image as people see it, in RGB, copying the pixels only when something changes:
    full-size copies of multi-megapixel frames are a real share of the per-image cost."""
    if image.getexif().get(_ORIENTATION, 1) not in (0, 1):
        image = ImageOps.exif_transpose(image)
    return image if image.mode == "RGB" else image.convert("RGB")
