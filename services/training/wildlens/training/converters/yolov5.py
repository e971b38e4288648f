"""YOLOv5 checkpoints (MegaDetector v5a/v5b): unpickled with YOLOv5's own classes, batch norms
folded, the Detect head in its export form (``[B, anchors, 5 + C]``: boxes in input pixels,
objectness and class scores), which the ``megadetector-v5`` decoder reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wildlens.training.converters.extra import import_torch, import_yolov5
from wildlens.training.converters.loaded import LoadedDetector, names_list, size_of

__all__ = ["load_yolov5"]

# YOLOv5's P6 models (four detection levels, MegaDetector v5's x6) are trained at 1280 px,
# its P5 models at 640, when the checkpoint does not say.
_P6_SIZE, _P5_SIZE = 1280, 640


def load_yolov5(path: Path) -> LoadedDetector:
    torch = import_torch()
    import_yolov5()
    # The checkpoint holds pickled classes, so it cannot load with weights_only.
    checkpoint: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    model = (checkpoint.get("ema") or checkpoint["model"]).float()
    for module in model.modules():
        # Checkpoints from older torch lack this attribute, which Upsample now reads.
        if isinstance(module, torch.nn.Upsample) and not hasattr(module, "recompute_scale_factor"):
            module.recompute_scale_factor = None
    model = model.fuse().eval()
    head = model.model[-1]
    head.inplace = False
    head.export = True  # one output tensor, boxes decoded in the graph
    # Grids computed from the input's shape, so the export takes any height and width.
    head.dynamic = True
    strides = [int(s) for s in head.stride.tolist()]
    options = checkpoint.get("opt") or {}
    if not isinstance(options, dict):
        options = vars(options)
    trained = size_of(options.get("imgsz")) or (_P6_SIZE if len(strides) == 4 else _P5_SIZE)
    return LoadedDetector(
        module=model,
        decoder="megadetector-v5",
        labels=names_list(model.names),
        trained_size=trained,
        max_stride=max(strides),
        facts={"framework": "yolov5", "levels": len(strides)},
    )
