"""Results in the MegaDetector batch output format (version 1.6), as Timelapse, AddaxAI and
the MegaDetector tools read them.

Category ids are string-formatted integers: detection categories number the detector's labels
from 1 (so a MegaDetector-style bundle gives 1 animal, 2 person, 3 vehicle), classification
categories number the classifier labels that occur in the response, in order of appearance.
Boxes are relative ``[x, y, width, height]`` with a top-left origin, as everywhere in Wildlens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from wildlens.common.events.v1.media_pb2 import MediaAnalyzed
from wildlens.inference.models.detector import Detector

__all__ = ["FORMAT_VERSION", "BatchOutput", "PredictedImage", "batch_output"]

FORMAT_VERSION = "1.6"


class MdDetection(BaseModel):
    category: str = Field(description="A key of detection_categories")
    conf: float
    bbox: list[float] = Field(description="Relative [x, y, width, height], top-left origin")
    classifications: list[tuple[str, float]] | None = Field(
        default=None, description="[classification category, confidence] pairs, best first"
    )


class MdImage(BaseModel):
    file: str
    detections: list[MdDetection] | None
    failure: str | None = None


class BatchOutput(BaseModel):
    """MegaDetector batch output, format 1.6."""

    info: dict[str, Any]
    detection_categories: dict[str, str]
    classification_categories: dict[str, str] | None = None
    images: list[MdImage]


@dataclass(frozen=True)
class PredictedImage:
    file: str
    result: MediaAnalyzed


def batch_output(detector: Detector, images: Sequence[PredictedImage]) -> BatchOutput:
    labels = detector.manifest.label_names
    detection_ids = {label: str(i + 1) for i, label in enumerate(labels)}
    classification_ids: dict[str, str] = {}
    classifier = ""
    out_images: list[MdImage] = []
    for image in images:
        result = image.result
        if result.failure:
            out_images.append(MdImage(file=image.file, detections=None, failure=result.failure))
            continue
        if result.classifier.name:
            classifier = f"{result.classifier.name} {result.classifier.version}"
        detections: list[MdDetection] = []
        for d in result.detections:
            pairs: list[tuple[str, float]] = []
            for c in d.classifications:
                name = c.label
                cid = classification_ids.setdefault(name, str(len(classification_ids) + 1))
                pairs.append((cid, round(float(c.confidence), 4)))
            box = d.bbox
            detections.append(
                MdDetection(
                    category=detection_ids.get(d.category, d.category),
                    conf=round(float(d.confidence), 4),
                    bbox=[round(float(v), 4) for v in (box.x, box.y, box.width, box.height)],
                    classifications=pairs or None,
                )
            )
        out_images.append(MdImage(file=image.file, detections=detections))
    info: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "detector": f"{detector.name} {detector.version}",
        "detection_completion_time": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "detector_metadata": {
            "megadetector_version": f"{detector.name} {detector.version}",
            "typical_detection_threshold": detector.manifest.threshold_for(labels[0]),
            "conservative_detection_threshold": round(
                detector.manifest.threshold_for(labels[0]) / 2, 4
            ),
        },
    }
    if classifier:
        info["classifier"] = classifier
    return BatchOutput(
        info=info,
        detection_categories={cid: label for label, cid in detection_ids.items()},
        classification_categories=(
            {cid: label for label, cid in classification_ids.items()}
            if classification_ids
            else None
        ),
        images=out_images,
    )
