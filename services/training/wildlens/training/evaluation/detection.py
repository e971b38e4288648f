"""A detector's evaluation on frames with confirmed boxes: COCO mAP (pycocotools) at IoU 0.5
and over 0.5:0.95, AP per class, and precision and recall at the bundle's thresholds (a
detection counts where it overlaps an unclaimed confirmed box of its class by IoU 0.5 or
more), for the whole split and per location."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Frame", "FrameDetections", "evaluate_detector"]

_MATCH_IOU = 0.5


@dataclass(frozen=True)
class Frame:
    """A frame's confirmed boxes (xyxy pixels, any one frame of reference per frame) and class
    indices, and where it was taken."""

    boxes: np.ndarray
    labels: np.ndarray
    location_id: str = ""


@dataclass(frozen=True)
class FrameDetections:
    """A model's detections on a frame, in the same pixels as the frame's boxes."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))


def _coco(
    frames: Sequence[Frame], found: Sequence[FrameDetections], classes: Sequence[str]
) -> dict[str, Any]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for i, (frame, detections) in enumerate(zip(frames, found, strict=True)):
        images.append({"id": i + 1})
        for box, label in zip(frame.boxes, frame.labels, strict=True):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(label) + 1,
                    "bbox": [float(box[0]), float(box[1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for box, score, label in zip(
            detections.boxes, detections.scores, detections.labels, strict=True
        ):
            results.append(
                {
                    "image_id": i + 1,
                    "category_id": int(label) + 1,
                    "bbox": [
                        float(box[0]),
                        float(box[1]),
                        float(box[2] - box[0]),
                        float(box[3] - box[1]),
                    ],
                    "score": float(score),
                }
            )
    empty: dict[str, Any] = {
        "map_50": None,
        "map_50_95": None,
        "per_class_ap_50": dict.fromkeys(classes),
    }
    if not annotations:
        return empty
    if not results:
        return {"map_50": 0.0, "map_50_95": 0.0, "per_class_ap_50": dict.fromkeys(classes, 0.0)}
    # pycocotools prints its progress and summary: kept out of the worker's output.
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": k + 1, "name": c} for k, c in enumerate(classes)],
        }
        truth.createIndex()
        scored = truth.loadRes(results)
        run = COCOeval(truth, scored, "bbox")
        run.evaluate()
        run.accumulate()
        run.summarize()
    # precision: [IoU thresholds, recall points, classes, area ranges, max detections]; IoU
    # 0.5 first, every area, 100 detections.
    precision = run.eval["precision"][0, :, :, 0, -1]
    per_class: dict[str, float | None] = {}
    for k, name in enumerate(classes):
        values = precision[:, k]
        values = values[values > -1]
        per_class[name] = float(values.mean()) if values.size else None
    return {
        "map_50": max(0.0, float(run.stats[1])),
        "map_50_95": max(0.0, float(run.stats[0])),
        "per_class_ap_50": per_class,
    }


def _at_thresholds(
    frames: Sequence[Frame],
    found: Sequence[FrameDetections],
    classes: Sequence[str],
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    true_pos = np.zeros(len(classes))
    kept = np.zeros(len(classes))
    truths = np.zeros(len(classes))
    for frame, detections in zip(frames, found, strict=True):
        for label in frame.labels:
            truths[int(label)] += 1
        claimed = np.zeros(len(frame.labels), dtype=bool)
        for i in np.argsort(-detections.scores):
            label = int(detections.labels[i])
            if detections.scores[i] < thresholds.get(classes[label], 0.5):
                continue
            kept[label] += 1
            same = (frame.labels == label) & ~claimed
            if not same.any():
                continue
            overlap = np.where(same, _iou(detections.boxes[i], frame.boxes), -1.0)
            best = int(np.argmax(overlap))
            if overlap[best] >= _MATCH_IOU:
                claimed[best] = True
                true_pos[label] += 1

    def ratio(a: float, b: float) -> float | None:
        return float(a / b) if b else None

    return {
        "precision": ratio(true_pos.sum(), kept.sum()),
        "recall": ratio(true_pos.sum(), truths.sum()),
        "per_class": {
            name: {
                "precision": ratio(true_pos[k], kept[k]),
                "recall": ratio(true_pos[k], truths[k]),
                "threshold": thresholds.get(name, 0.5),
                "boxes": int(truths[k]),
            }
            for k, name in enumerate(classes)
        },
    }


def _figures(
    frames: Sequence[Frame],
    found: Sequence[FrameDetections],
    classes: Sequence[str],
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    return {
        "frames": len(frames),
        "boxes": int(sum(len(f.labels) for f in frames)),
        **_coco(frames, found, classes),
        **_at_thresholds(frames, found, classes, thresholds),
    }


def evaluate_detector(
    frames: Sequence[Frame],
    found: Sequence[FrameDetections],
    classes: Sequence[str],
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    """The figures for the whole split, and ``per_location`` the same for each location's
    frames."""
    figures = _figures(frames, found, classes, thresholds)
    by_location: dict[str, list[int]] = {}
    for i, frame in enumerate(frames):
        by_location.setdefault(frame.location_id or "unknown", []).append(i)
    figures["per_location"] = {
        location: _figures(
            [frames[i] for i in chosen], [found[i] for i in chosen], classes, thresholds
        )
        for location, chosen in sorted(by_location.items())
    }
    return figures
