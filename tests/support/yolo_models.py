"""Detectors with the output layouts of the models the field runs, built without weights.

* ``YoloV5``: the YOLOv5 v6+ architecture (CSPDarknet with C3 blocks and SPPF, PANet neck,
  anchor-based Detect head) whose ONNX export gives MegaDetector v5's layout
  ``[B, A_total, 5 + C]``: cx, cy, w, h in input pixels, then objectness and class scores after
  the sigmoid, with the grid and anchors applied inside the graph. Ultralytics' own
  ``yolov5*.yaml`` now builds the anchor-free "v5u" head, so this layout is built here. P6 with
  depth 1.33 and width 1.25 at 1280 px is YOLOv5x6, MegaDetector v5's architecture.
* ``build_yolov8``: Ultralytics' ``yolov8n.yaml`` with three classes; its ONNX export gives
  ``[B, 4 + C, anchors]`` (the MegaDetector v6 family layout).

Only this module's YOLOv8 part needs ``ultralytics``; the YOLOv5 part is plain torch, so it
also runs where only torch is installed.
"""

from __future__ import annotations

import io
import itertools
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = [
    "LABELS",
    "P5_ANCHORS",
    "P6_ANCHORS",
    "YoloV5",
    "build_yolov8",
    "export_onnx",
    "write_yolo_bundle",
    "yolov5x6",
]

LABELS = ("animal", "person", "vehicle")

# Anchor sizes in input pixels, per level, as YOLOv5's P5 and P6 configurations define them.
P5_ANCHORS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((10, 13), (16, 30), (33, 23)),
    ((30, 61), (62, 45), (59, 119)),
    ((116, 90), (156, 198), (373, 326)),
)
P6_ANCHORS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((19, 27), (44, 40), (38, 94)),
    ((96, 68), (86, 152), (180, 137)),
    ((140, 301), (303, 264), (238, 542)),
    ((436, 615), (739, 380), (925, 792)),
)


def _channels(c: int, width: float) -> int:
    # YOLOv5 keeps every layer's width a multiple of 8, which the exported weights rely on.
    return max(8, math.ceil(c * width / 8) * 8)


def _repeats(n: int, depth: float) -> int:
    return max(round(n * depth), 1) if n > 1 else n


class Conv(nn.Module):
    """Conv2d, batch norm, SiLU: YOLOv5's basic block (BN settings as YOLOv5 trains them)."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.act(self.bn(self.conv(x)))
        return y

    def fuse(self) -> None:
        """Fold the batch norm into the convolution, as YOLOv5 does before export."""
        if isinstance(self.bn, nn.BatchNorm2d):
            self.conv = fuse_conv_bn_eval(self.conv, self.bn)
            self.bn = nn.Identity()


class Bottleneck(nn.Module):
    def __init__(self, c1: int, c2: int, shortcut: bool = True) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c2, 1)
        self.cv2 = Conv(c2, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with three convolutions."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True) -> None:
        super().__init__()
        hidden = c2 // 2
        self.cv1 = Conv(c1, hidden, 1)
        self.cv2 = Conv(c1, hidden, 1)
        self.cv3 = Conv(2 * hidden, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))
        return y


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5 max-pools instead of 5/9/13 in parallel."""

    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        hidden = c1 // 2
        self.cv1 = Conv(c1, hidden, 1)
        self.cv2 = Conv(hidden * 4, c2, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        y: torch.Tensor = self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))
        return y


class Detect(nn.Module):
    """YOLOv5's anchor-based head in its export form: decoded boxes and sigmoid scores.

    Per anchor: ``xy = (2 * sigmoid - 0.5 + cell) * stride`` and ``wh = (2 * sigmoid)^2 *
    anchor``; levels are flattened in (anchor, row, column) order and concatenated, as
    YOLOv5's ``export.py`` (and so MegaDetector v5's ONNX file) lays them out.
    """

    def __init__(
        self,
        num_classes: int,
        anchors: Sequence[Sequence[tuple[int, int]]],
        channels: Sequence[int],
        strides: Sequence[int],
    ) -> None:
        super().__init__()
        self.nc = num_classes
        self.no = num_classes + 5
        self.na = len(anchors[0])
        self.strides = tuple(strides)
        self.anchor_px: torch.Tensor
        self.register_buffer("anchor_px", torch.tensor(anchors, dtype=torch.float32))
        self.m = nn.ModuleList(nn.Conv2d(c, self.na * self.no, 1) for c in channels)
        with torch.no_grad():
            for conv, stride in zip(self.m, self.strides, strict=True):
                assert isinstance(conv, nn.Conv2d)
                assert conv.bias is not None
                # YOLOv5's prior: about 8 objects per 640 px image, and near-uniform classes,
                # so an untrained head starts out quiet instead of firing on every anchor.
                bias = conv.bias.view(self.na, self.no)
                bias[:, 4] += math.log(8 / (640 / stride) ** 2)
                bias[:, 5:] += math.log(0.6 / (num_classes - 0.99))

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        outputs = []
        for i, x in enumerate(features):
            y: torch.Tensor = self.m[i](x)
            batch, _, ny, nx = y.shape
            y = y.view(batch, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).sigmoid()
            gy, gx = torch.meshgrid(
                torch.arange(ny, device=y.device, dtype=y.dtype),
                torch.arange(nx, device=y.device, dtype=y.dtype),
                indexing="ij",
            )
            grid = torch.stack((gx, gy), -1).view(1, 1, ny, nx, 2) - 0.5
            anchors = self.anchor_px[i].to(y.dtype).view(1, self.na, 1, 1, 2)
            xy = (y[..., :2] * 2 + grid) * self.strides[i]
            wh = (y[..., 2:4] * 2) ** 2 * anchors
            outputs.append(torch.cat((xy, wh, y[..., 4:]), -1).view(batch, -1, self.no))
        return torch.cat(outputs, 1)


class YoloV5(nn.Module):
    """YOLOv5 (v6+ layout) with an anchor-based head, P5 or P6.

    Args:
        depth: depth multiple (0.33 n/s, 0.67 m, 1.0 l, 1.33 x).
        width: width multiple (0.25 n, 0.5 s, 0.75 m, 1.0 l, 1.25 x).
        levels: 3 for P5 (strides 8/16/32), 4 for P6 (strides 8/16/32/64).
        num_classes: 3 for MegaDetector's animal/person/vehicle.
    """

    def __init__(
        self,
        *,
        depth: float = 0.33,
        width: float = 0.25,
        levels: Literal[3, 4] = 3,
        num_classes: int = len(LABELS),
    ) -> None:
        super().__init__()
        self.levels = levels
        self.strides = (8, 16, 32, 64)[:levels]

        def ch(c: int) -> int:
            return _channels(c, width)

        def rep(n: int) -> int:
            return _repeats(n, depth)

        # Backbone stage widths: P3..P5 (P5 config) or P3..P6 (P6 config adds a 768 stage).
        stage = [256, 512, 1024] if levels == 3 else [256, 512, 768, 1024]
        stage_repeats = [6, 9, 3] if levels == 3 else [6, 9, 3, 3]
        self.stem = nn.Sequential(Conv(3, ch(64), 6, 2, 2), Conv(ch(64), ch(128), 3, 2))
        self.stem_c3 = C3(ch(128), ch(128), rep(3))
        self.down = nn.ModuleList()
        previous = ch(128)
        for c, n in zip(stage, stage_repeats, strict=True):
            self.down.append(nn.Sequential(Conv(previous, ch(c), 3, 2), C3(ch(c), ch(c), rep(n))))
            previous = ch(c)
        self.sppf = SPPF(previous, previous)

        # Top-down path: reduce, upsample, join the backbone stage below, C3 (no shortcut).
        self.lateral = nn.ModuleList()
        self.top_down = nn.ModuleList()
        for upper, lower in zip(stage[:0:-1], stage[-2::-1], strict=True):
            self.lateral.append(Conv(ch(upper), ch(lower), 1))
            self.top_down.append(C3(ch(lower) * 2, ch(lower), rep(3), shortcut=False))
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")

        # Bottom-up path: stride-2 conv, join the matching lateral output, C3 (no shortcut).
        self.reduce = nn.ModuleList()
        self.bottom_up = nn.ModuleList()
        for lower, upper in itertools.pairwise(stage):
            self.reduce.append(Conv(ch(lower), ch(lower), 3, 2))
            self.bottom_up.append(C3(ch(lower) * 2, ch(upper), rep(3), shortcut=False))

        anchors = P5_ANCHORS if levels == 3 else P6_ANCHORS
        self.detect = Detect(num_classes, anchors, [ch(c) for c in stage], self.strides)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_c3(self.stem(x))
        backbone: list[torch.Tensor] = []
        for block in self.down:
            x = block(x)
            backbone.append(x)
        x = self.sppf(x)
        # Lateral outputs are kept: the bottom-up path joins them, as in YOLOv5's PANet.
        laterals: list[torch.Tensor] = []
        for i, (lateral, c3) in enumerate(zip(self.lateral, self.top_down, strict=True)):
            x = lateral(x)
            laterals.append(x)
            x = c3(torch.cat((self.upsample(x), backbone[-2 - i]), 1))
        outputs = [x]
        for reduce, c3, skip in zip(self.reduce, self.bottom_up, reversed(laterals), strict=True):
            x = c3(torch.cat((reduce(x), skip), 1))
            outputs.append(x)
        result: torch.Tensor = self.detect(outputs)
        return result

    def fuse(self) -> YoloV5:
        """Fold every batch norm into its convolution (inference only; same outputs)."""
        for module in self.modules():
            if isinstance(module, Conv):
                module.fuse()
        return self


def yolov5x6() -> YoloV5:
    """MegaDetector v5's architecture (YOLOv5x6), random weights; it takes 1280 px input."""
    return YoloV5(depth=1.33, width=1.25, levels=4)


def build_yolov8(yaml: str = "yolov8n.yaml", num_classes: int = len(LABELS)) -> nn.Module:
    """An Ultralytics detector from its yaml, untrained, set up as its ONNX exporter sets it.

    The returned module maps ``[B, 3, H, W]`` to ``[B, 4 + C, anchors]``.
    """
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel(yaml, nc=num_classes, verbose=False).eval()  # type: ignore[no-untyped-call]
    layers: Any = model.model
    head = layers[-1]
    # What Ultralytics' exporter switches on: the head returns only the decoded tensor.
    head.export = True
    head.format = "onnx"
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def export_onnx(model: nn.Module, size: int, dynamic_batch: bool = True) -> bytes:
    """The model as ONNX bytes for ``size`` x ``size`` input (``images`` in, ``output0`` out)."""
    model = model.eval()
    buffer = io.BytesIO()
    # The TorchScript exporter warns about its own deprecation and tracing details; the suite
    # turns warnings into errors, and the exported graph is checked against torch in the tests.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, size, size),),
            buffer,  # type: ignore[arg-type]  # file objects work; the annotation says paths
            input_names=["images"],
            output_names=["output0"],
            dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}}
            if dynamic_batch
            else None,
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()


def write_yolo_bundle(
    folder: Path,
    onnx: bytes,
    *,
    decoder: Literal["megadetector-v5", "yolov8"],
    size: int,
    name: str,
    version: str = "0.0.0-random",
) -> Path:
    """A detector bundle for an exported model, labels animal/person/vehicle."""
    from wildlens.common.bundles import write_bundle

    write_bundle(
        folder,
        onnx,
        {
            "name": name,
            "version": version,
            "kind": "detector",
            "input": {"width": size, "height": size},
            "decoder": decoder,
            "labels": [{"label": label} for label in LABELS],
        },
    )
    return folder
