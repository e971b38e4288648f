"""A trained detector to ONNX, in the layout inference's ``generic`` decoder reads: ``boxes``
``[B, N, 4]`` xyxy in input pixels, ``scores`` ``[B, N]`` and ``labels`` ``[B, N]``, one row
per location of the feature pyramid with its best class (no background class: FCOS scores
each class on its own). Thresholds, NMS and the cap on detections are inference's, from the
bundle, so the graph holds no data-dependent shapes and any batch size runs.

The wrapper applies the network's own normalisation and, where the input is not the size the
network was built for, its own resizing, giving boxes back in the input's pixels. The export
is checked against torch on every frame of the test split before it becomes a bundle.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional
from torchvision.models.detection.image_list import ImageList

from wildlens.training.engine.detection.data import FrameDataset, FrameSample
from wildlens.training.engine.samples import Reader

__all__ = [
    "BOX_TOLERANCE",
    "SCORE_TOLERANCE",
    "DetectorParity",
    "DetectorParityError",
    "ServedDetector",
    "check_detector_parity",
    "export_detector_onnx",
]

_OPSET = 17
OUTPUTS = ("boxes", "scores", "labels")
# Largest differences between ONNX Runtime and torch: a box's corners, as a share of the
# image's side, and a score.
BOX_TOLERANCE = 1e-3
SCORE_TOLERANCE = 1e-4


class ServedDetector(nn.Module):
    """An FCOS model as served: letterboxed ``[B, 3, S, S]`` pixels in [0, 1] in; boxes,
    scores and labels of every location out."""

    mean: torch.Tensor
    std: torch.Tensor
    points: torch.Tensor

    def __init__(self, trained: nn.Module, size: int) -> None:
        super().__init__()
        # An FCOS model; its parts are read by name.
        model: Any = copy.deepcopy(trained).to("cpu", dtype=torch.float32).eval()
        self.backbone: nn.Module = model.backbone
        self.head: nn.Module = model.head
        self.size = size
        self.model_size = int(model.transform.min_size[0])
        self.register_buffer("mean", torch.tensor(model.transform.image_mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(model.transform.image_std).view(1, 3, 1, 1))
        # The points are the same for every image of this size: computed once, not traced.
        with torch.no_grad():
            probe = torch.zeros(1, 3, self.model_size, self.model_size)
            features = list(self.backbone(probe).values())
            points = model.anchor_generator(
                ImageList(probe, [(self.model_size, self.model_size)]), features
            )[0]
        self.register_buffer("points", points)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = (images - self.mean) / self.std
        scale = 1.0
        if self.size != self.model_size:
            # torchvision's resizing of the frame to the size the network was built for.
            x = functional.interpolate(
                x, size=(self.model_size, self.model_size), mode="bilinear", align_corners=False
            )
            scale = self.size / self.model_size
        features = list(self.backbone(x).values())
        out = self.head(features)
        scores_all = torch.sqrt(
            torch.sigmoid(out["cls_logits"]) * torch.sigmoid(out["bbox_ctrness"])
        )
        scores, labels = scores_all.max(dim=2)
        points = self.points
        centre_x = 0.5 * (points[:, 0] + points[:, 2])
        centre_y = 0.5 * (points[:, 1] + points[:, 3])
        width = (points[:, 2] - points[:, 0]).unsqueeze(-1)
        reg = out["bbox_regression"] * width
        boxes = torch.stack(
            (
                centre_x - reg[..., 0],
                centre_y - reg[..., 1],
                centre_x + reg[..., 2],
                centre_y + reg[..., 3],
            ),
            dim=-1,
        ).clamp(0, float(self.model_size))
        return boxes * scale, scores, labels


def export_detector_onnx(model: nn.Module, size: int) -> bytes:
    """The detector as ONNX through :class:`ServedDetector`: ``images`` ``[N, 3, size, size]``
    in, ``boxes``, ``scores`` and ``labels`` out."""
    served = ServedDetector(model, size).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about its own deprecation; the export is checked
        # against torch right after, on the test frames.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            served,
            (torch.zeros(1, 3, size, size),),
            buffer,  # type: ignore[arg-type]  # file objects work; the annotation says paths
            input_names=["images"],
            output_names=list(OUTPUTS),
            dynamic_axes={"images": {0: "batch"}, **{name: {0: "batch"} for name in OUTPUTS}},
            opset_version=_OPSET,
            dynamo=False,
        )
    return buffer.getvalue()


class DetectorParityError(Exception):
    """The ONNX export's boxes or scores differ from torch's by more than the tolerances."""

    def __init__(self, box: float, score: float, images: int) -> None:
        super().__init__(
            f"the ONNX export differs from the torch detector over {images} test frames by "
            f"{box:.3g} of the image side in a box corner (at most {BOX_TOLERANCE:g}) and "
            f"{score:.3g} in a score (at most {SCORE_TOLERANCE:g})"
        )


@dataclass(frozen=True)
class DetectorParity:
    box_difference: float
    score_difference: float
    images: int


def check_detector_parity(
    model: nn.Module,
    onnx: bytes,
    samples: Sequence[FrameSample],
    size: int,
    read: Reader,
    *,
    batch_size: int = 8,
) -> DetectorParity:
    """Run the wrapper in torch and the export in ONNX Runtime over ``samples`` and compare
    every location's box (relative to the side) and score.

    Raises:
        DetectorParityError: a difference exceeds its tolerance.
    """
    import onnxruntime

    served = ServedDetector(model, size).eval()
    session = onnxruntime.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    frames = FrameDataset(samples, size, read)
    batches: list[torch.Tensor] = []
    if samples:
        for start in range(0, len(frames), batch_size):
            batches.append(
                torch.stack(
                    [frames[i][0] for i in range(start, min(len(frames), start + batch_size))]
                )
            )
    else:
        batches = [torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))]
    box, score = 0.0, 0.0
    with torch.inference_mode():
        for images in batches:
            boxes, scores, _ = served(images)
            got_boxes, got_scores, _ = session.run(list(OUTPUTS), {"images": images.numpy()})
            box = max(box, float(np.abs(got_boxes - boxes.numpy()).max()) / size)
            score = max(score, float(np.abs(got_scores - scores.numpy()).max()))
    if box > BOX_TOLERANCE or score > SCORE_TOLERANCE:
        raise DetectorParityError(box, score, len(samples))
    return DetectorParity(box, score, len(samples))
