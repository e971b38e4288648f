"""Ultralytics checkpoints (YOLOv8/9/11, MegaDetector v6): loaded with Ultralytics' own loader,
the head set up as its ONNX exporter sets it. A Detect head gives ``[B, 4 + C, anchors]`` (the
``yolov8`` decoder); an end-to-end head (YOLOv10, YOLO26) gives ``[B, N, 6]`` after its own
selection (``end2end``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wildlens.training.converters.extra import import_ultralytics
from wildlens.training.converters.loaded import LoadedDetector, names_list, size_of

__all__ = ["load_ultralytics"]

_DEFAULT_SIZE = 640
# Detections an end-to-end head keeps per image, as Ultralytics' exporter keeps them.
_MAX_DETECTIONS = 300


def load_ultralytics(path: Path) -> LoadedDetector:
    ultralytics = import_ultralytics()
    from ultralytics.nn.modules.head import Detect
    from ultralytics.nn.tasks import load_checkpoint

    loaded: tuple[Any, dict[str, Any]] = load_checkpoint(str(path), fuse=True)  # type: ignore[no-untyped-call]
    model, checkpoint = loaded
    if getattr(model, "task", "detect") != "detect":
        raise ValueError(f"{path.name} is an Ultralytics {model.task} model, not a detector")
    model = model.eval()
    if not isinstance(model.model[-1], Detect):
        raise ValueError(f"{path.name} has no Ultralytics detection head")
    head: Any = model.model[-1]
    head.export = True
    head.format = "onnx"
    # Grids computed from the input's shape, so the export takes any height and width.
    head.dynamic = True
    head.shape = None
    head.xyxy = False
    if hasattr(head, "agnostic_nms"):
        head.agnostic_nms = False
    end2end = bool(getattr(head, "end2end", False))
    if end2end:
        head.max_det = _MAX_DETECTIONS
    arguments = checkpoint.get("train_args") or {}
    strides = [int(s) for s in model.stride.tolist()]
    return LoadedDetector(
        module=model,
        decoder="end2end" if end2end else "yolov8",
        labels=names_list(model.names),
        trained_size=size_of(arguments.get("imgsz")) or _DEFAULT_SIZE,
        max_stride=max(strides),
        facts={
            "framework": "ultralytics",
            "ultralytics_version": str(checkpoint.get("version") or ultralytics.__version__),
        },
    )
