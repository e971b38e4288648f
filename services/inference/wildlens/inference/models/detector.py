"""The detector: images in, animal/person/vehicle boxes out, relative to each image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from wildlens.inference.models.base import InferenceModel
from wildlens.inference.models.decoders import DecodeConfig, decode
from wildlens.inference.models.preprocess import preprocess

__all__ = ["Detection", "Detector"]


@dataclass(frozen=True, slots=True)
class Detection:
    """One box: its category name, confidence, and ``bbox`` as relative ``[x, y, w, h]``
    (top-left origin), as MegaDetector output and Camtrap DP express it."""

    category: str
    confidence: float
    bbox: tuple[float, float, float, float]


class Detector(InferenceModel):
    kind = "detector"

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        """Detections for each image, in the order given. Blocking: run it in an executor."""
        manifest = self.manifest
        assert manifest.decoder is not None  # the manifest schema requires it for detectors
        config = DecodeConfig.from_manifest(manifest)
        labels = manifest.label_names
        results: list[list[Detection]] = []
        for chunk in self._chunks(len(images)):
            tensors, transforms = [], []
            for image in images[chunk]:
                # Cameras store portrait shots rotated with an orientation tag; boxes must be
                # relative to the image as people see it.
                upright = _upright_rgb(image)
                tensor, transform = preprocess(upright, manifest.input)
                tensors.append(tensor)
                transforms.append(transform)
            outputs = self._run(np.stack(tensors))
            for raw, transform in zip(
                decode(manifest.decoder, outputs, config), transforms, strict=True
            ):
                found: list[Detection] = []
                if raw:
                    boxes = transform.to_relative_xywh([d.box_xyxy for d in raw])
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


_ORIENTATION = 0x0112


def _upright_rgb(image: Image.Image) -> Image.Image:
    """The image as people see it, in RGB, copying the pixels only when something changes:
    full-size copies of multi-megapixel frames are a real share of the per-image cost."""
    if image.getexif().get(_ORIENTATION, 1) not in (0, 1):
        image = ImageOps.exif_transpose(image)
    return image if image.mode == "RGB" else image.convert("RGB")
