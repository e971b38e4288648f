"""Decoders: raw detector outputs to boxes, one list per image.

Each decoder knows one output layout the field uses, so published detectors load unchanged:

* ``generic``: three outputs, boxes ``[B, N, 4]`` xyxy pixels, scores ``[B, N]``, labels
  ``[B, N]`` (taken by name when the outputs are called boxes/scores/labels, else in order).
* ``yolov8``: Ultralytics v8/v9/v11 (MegaDetector v6): ``[B, 4 + C, A]`` with cx, cy, w, h in
  pixels and C class scores, no objectness.
* ``megadetector-v5``: YOLOv5 anchor-based export: ``[B, A, 5 + C]`` with cx, cy, w, h,
  objectness and C class scores; a detection's score is objectness times class score.
* ``end2end``: NMS inside the graph (YOLOv10, RT-DETR style): ``[B, N, 6]`` with
  x1, y1, x2, y2, score, label.

All boxes are returned in model-input pixels; thresholds (per label) are applied before
class-aware NMS, and each image keeps at most ``max_detections``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wildlens.common.bundles._bundle import DecoderName, ModelManifest

__all__ = ["DecodeConfig", "RawDetection", "decode", "nms"]

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Candidates entering NMS per image; beyond this the quadratic cost buys nothing, since only
# the best max_detections survive anyway (YOLOv5/v8 use the same kind of cap).
MAX_NMS_CANDIDATES = 30_000


@dataclass(frozen=True, slots=True)
class RawDetection:
    label_index: int
    score: float
    box_xyxy: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class DecodeConfig:
    """What decoding needs from a manifest: one threshold per class index, NMS and a cap."""

    thresholds: FloatArray
    nms_iou: float = 0.45
    max_detections: int = 300

    @classmethod
    def from_manifest(cls, manifest: ModelManifest) -> DecodeConfig:
        thresholds = np.array(
            [manifest.threshold_for(name) for name in manifest.label_names], dtype=np.float32
        )
        return cls(thresholds, manifest.nms_iou, manifest.max_detections)

    @property
    def num_classes(self) -> int:
        return len(self.thresholds)


def nms(boxes: FloatArray, scores: FloatArray, labels: IntArray, iou: float) -> IntArray:
    """Class-aware greedy NMS; indices of the kept boxes, best score first.

    Boxes of different labels are shifted apart by more than any coordinate, so one pass over
    all labels never lets a box suppress another label's box.
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    boxes64 = boxes.astype(np.float64)
    shift = labels.astype(np.float64)[:, None] * (np.abs(boxes64).max() + 1.0)
    shifted = boxes64 + shift
    x1, y1, x2, y2 = shifted.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        w = np.maximum(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0)
        h = np.maximum(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0)
        inter = w * h
        union = areas[best] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def _cxcywh_to_xyxy(boxes: FloatArray) -> FloatArray:
    cx, cy, w, h = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def _select(
    boxes: FloatArray,
    scores: FloatArray,
    labels: IntArray,
    config: DecodeConfig,
    *,
    suppress: bool,
) -> list[RawDetection]:
    """Threshold, NMS and cap for one image."""
    valid = (labels >= 0) & (labels < config.num_classes)
    threshold = config.thresholds[np.clip(labels, 0, config.num_classes - 1)]
    mask = valid & (scores >= threshold) & np.isfinite(scores)
    boxes, scores, labels = boxes[mask], scores[mask], labels[mask]
    if len(scores) > MAX_NMS_CANDIDATES:
        top = np.argpartition(-scores, MAX_NMS_CANDIDATES)[:MAX_NMS_CANDIDATES]
        boxes, scores, labels = boxes[top], scores[top], labels[top]
    if suppress:
        order = nms(boxes, scores, labels, config.nms_iou)
    else:
        order = np.argsort(-scores, kind="stable")
    order = order[: config.max_detections]
    return [
        RawDetection(
            int(labels[i]),
            float(scores[i]),
            (float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3])),
        )
        for i in order
    ]


def _only(outputs: Mapping[str, npt.NDArray[np.generic]], decoder: str) -> FloatArray:
    first = next(iter(outputs.values()), None)
    if first is None:
        raise ValueError(f"{decoder} decoder got no outputs")
    return np.asarray(first, dtype=np.float32)


def _expect_rank(array: npt.NDArray[np.generic], rank: int, what: str) -> None:
    if array.ndim != rank:
        raise ValueError(f"{what} should have {rank} dimensions, got shape {array.shape}")


def _decode_generic(
    outputs: Mapping[str, npt.NDArray[np.generic]], config: DecodeConfig
) -> list[list[RawDetection]]:
    if {"boxes", "scores", "labels"} <= outputs.keys():
        boxes, scores, labels = outputs["boxes"], outputs["scores"], outputs["labels"]
    else:
        values = list(outputs.values())
        if len(values) < 3:
            raise ValueError(f"generic decoder needs boxes, scores and labels, got {len(values)}")
        boxes, scores, labels = values[:3]
    boxes = np.asarray(boxes, dtype=np.float32)
    _expect_rank(boxes, 3, "generic boxes")
    # Some exports keep a trailing unit axis on scores and labels ([B, N, 1]).
    scores = np.asarray(scores, dtype=np.float32).reshape(boxes.shape[:2])
    labels = np.asarray(labels).reshape(boxes.shape[:2]).astype(np.int64)
    return [
        _select(boxes[b], scores[b], labels[b], config, suppress=True)
        for b in range(boxes.shape[0])
    ]


def _decode_yolov8(
    outputs: Mapping[str, npt.NDArray[np.generic]], config: DecodeConfig
) -> list[list[RawDetection]]:
    raw = _only(outputs, "yolov8")
    _expect_rank(raw, 3, "yolov8 output")
    channels = 4 + config.num_classes
    if raw.shape[1] == channels:
        raw = raw.transpose(0, 2, 1)  # the usual [B, 4 + C, A] to [B, A, 4 + C]
    elif raw.shape[2] != channels:
        raise ValueError(
            f"yolov8 output {raw.shape} does not fit {config.num_classes} labels "
            f"(expected 4 + {config.num_classes} = {channels} channels)"
        )
    results = []
    for image in raw:
        class_scores = image[:, 4:]
        labels = class_scores.argmax(axis=1)
        scores = np.take_along_axis(class_scores, labels[:, None], axis=1)[:, 0]
        boxes = _cxcywh_to_xyxy(image[:, :4])
        results.append(_select(boxes, scores, labels.astype(np.int64), config, suppress=True))
    return results


def _decode_megadetector_v5(
    outputs: Mapping[str, npt.NDArray[np.generic]], config: DecodeConfig
) -> list[list[RawDetection]]:
    raw = _only(outputs, "megadetector-v5")
    _expect_rank(raw, 3, "megadetector-v5 output")
    channels = 5 + config.num_classes
    if raw.shape[2] != channels:
        raise ValueError(
            f"megadetector-v5 output {raw.shape} does not fit {config.num_classes} labels "
            f"(expected 5 + {config.num_classes} = {channels} values per anchor)"
        )
    results = []
    for image in raw:
        # YOLOv5 scores a class as objectness x conditional class probability.
        class_scores = image[:, 5:] * image[:, 4:5]
        labels = class_scores.argmax(axis=1)
        scores = np.take_along_axis(class_scores, labels[:, None], axis=1)[:, 0]
        boxes = _cxcywh_to_xyxy(image[:, :4])
        results.append(_select(boxes, scores, labels.astype(np.int64), config, suppress=True))
    return results


def _decode_end2end(
    outputs: Mapping[str, npt.NDArray[np.generic]], config: DecodeConfig
) -> list[list[RawDetection]]:
    raw = _only(outputs, "end2end")
    _expect_rank(raw, 3, "end2end output")
    if raw.shape[2] != 6:
        raise ValueError(f"end2end output should be [B, N, 6], got {raw.shape}")
    # The graph already ran NMS; running it again would only drop legitimate overlaps.
    return [
        _select(
            image[:, :4],
            image[:, 4],
            np.rint(image[:, 5]).astype(np.int64),
            config,
            suppress=False,
        )
        for image in raw
    ]


_DECODERS: dict[
    str,
    Callable[[Mapping[str, npt.NDArray[np.generic]], DecodeConfig], list[list[RawDetection]]],
] = {
    "generic": _decode_generic,
    "yolov8": _decode_yolov8,
    "megadetector-v5": _decode_megadetector_v5,
    "end2end": _decode_end2end,
}


def decode(
    decoder: DecoderName,
    outputs: Mapping[str, npt.NDArray[np.generic]] | Sequence[npt.NDArray[np.generic]],
    config: DecodeConfig,
) -> list[list[RawDetection]]:
    """Raw outputs of one batch to detections per image, boxes in model-input pixels.

    Args:
        decoder: the manifest's decoder name.
        outputs: the session outputs by name in graph order (or just in graph order).
        config: thresholds per class index, NMS IoU and the per-image cap.

    Raises:
        ValueError: the outputs do not have the layout the decoder reads.
    """
    if not isinstance(outputs, Mapping):
        outputs = {f"output{i}": array for i, array in enumerate(outputs)}
    try:
        function = _DECODERS[decoder]
    except KeyError:
        raise ValueError(f"unknown decoder {decoder!r}") from None
    return function(outputs, config)
