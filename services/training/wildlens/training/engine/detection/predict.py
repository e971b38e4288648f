"""A detector's detections on frames, as inference would keep them: every location's best
class, the scores at or above a floor, class-aware NMS at the bundle's IoU, the best few per
frame; boxes relative to the frame (xywh) like the catalogue's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchvision.ops import batched_nms

from wildlens.training.engine.detection.data import FrameDataset, FrameSample
from wildlens.training.engine.detection.export import ServedDetector
from wildlens.training.engine.samples import Reader

__all__ = ["Predictions", "predict", "select"]


@dataclass(frozen=True)
class Predictions:
    """One frame's detections: ``boxes`` ``[N, 4]`` in input pixels (xyxy), scores, labels."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def select(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    *,
    floor: float,
    nms_iou: float,
    keep: int,
) -> Predictions:
    chosen = scores >= floor
    boxes, scores, labels = boxes[chosen], scores[chosen], labels[chosen]
    order = batched_nms(boxes, scores, labels, nms_iou)[:keep]
    return Predictions(
        boxes[order].numpy().astype(np.float64),
        scores[order].numpy().astype(np.float64),
        labels[order].numpy().astype(np.int64),
    )


def predict(
    model: nn.Module,
    samples: Sequence[FrameSample],
    size: int,
    read: Reader,
    *,
    floor: float = 0.01,
    nms_iou: float = 0.45,
    keep: int = 100,
    batch_size: int = 8,
) -> list[Predictions]:
    """Detections on each sample's frame, in order. Blocking (torch)."""
    served = ServedDetector(model, size).eval()
    frames = FrameDataset(samples, size, read)
    found: list[Predictions] = []
    with torch.inference_mode():
        for start in range(0, len(frames), batch_size):
            stop = min(len(frames), start + batch_size)
            images = torch.stack([frames[i][0] for i in range(start, stop)])
            boxes, scores, labels = served(images)
            found += [
                select(boxes[i], scores[i], labels[i], floor=floor, nms_iou=nms_iou, keep=keep)
                for i in range(stop - start)
            ]
    return found
