"""Checkpoints as people download them, made here: a YOLOv5 one (MegaDetector v5's kind, written
with YOLOv5's own classes) and an Ultralytics one (MegaDetector v6's kind), each trained for a
few hundred steps to find one bright rectangle on a dark scene.

Each network learns from the scene exactly as inference letterboxes it, so the converted model,
served by the platform, finds the rectangle in that scene. The checkpoints are saved the way
the two trainers save their final weights (half precision, training options beside them), so
``wildlens models add`` reads them as it reads published ones.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from wildlens.common.bundles import InputSpec
from wildlens.common.imaging import preprocess

__all__ = [
    "CHECKPOINT_INPUT",
    "LABELS",
    "RECTANGLE",
    "build_ultralytics_checkpoint",
    "build_yolov5_checkpoint",
    "scene",
    "scene_jpeg",
]

LABELS = ("animal", "person", "vehicle")
CHECKPOINT_INPUT = InputSpec(width=160, height=160)
# The rectangle's relative [x, y, width, height] in the scene.
RECTANGLE = (0.3, 0.4, 0.3, 0.25)
SCENE_SIZE = (320, 240)
PARAMS_FILE = "build.json"
# Bump when the networks, the scene or the training change, so that cached builds are rebuilt.
REVISION = 2
YOLOV5_STEPS = 300
ULTRALYTICS_STEPS = 300


def scene() -> Image.Image:
    """A dark, slightly noisy scene with one bright rectangle (the animal)."""
    width, height = SCENE_SIZE
    rng = np.random.default_rng(7)
    pixels = (20 + rng.integers(0, 12, size=(height, width, 3))).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    x, y, w, h = RECTANGLE
    ImageDraw.Draw(image).rectangle(
        (x * width, y * height, (x + w) * width - 1, (y + h) * height - 1), fill=(230, 225, 210)
    )
    return image


def scene_jpeg() -> bytes:
    buffer = io.BytesIO()
    scene().save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _training_input() -> tuple[torch.Tensor, tuple[float, float, float, float]]:
    """The scene as inference feeds it (letterboxed to the smallest stride-multiple rectangle,
    as a converted checkpoint takes any input size), and the rectangle as relative cx, cy, w, h
    of it."""
    tensor, transform = preprocess(scene(), CHECKPOINT_INPUT, rectangular=True)
    width, height = SCENE_SIZE
    x, y, w, h = RECTANGLE
    x1, y1, x2, y2 = transform.to_input_xyxy(
        [[x * width, y * height, (x + w) * width, (y + h) * height]]
    )[0]
    across, down = transform.input_width, transform.input_height
    box = ((x1 + x2) / 2 / across, (y1 + y2) / 2 / down, (x2 - x1) / across, (y2 - y1) / down)
    return torch.from_numpy(tensor[None]), box


def _train(model: torch.nn.Module, loss: Callable[[], torch.Tensor], steps: int) -> float:
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared; one thread is what a CI core gives
    value = torch.zeros(())
    try:
        model.train()
        for _ in range(steps):
            value = loss()
            optimiser.zero_grad()
            value.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return float(value.detach())


def _cached(folder: Path, file: str, params: dict[str, Any]) -> Path | None:
    try:
        saved = json.loads((folder / PARAMS_FILE).read_text())
        if (folder / file).is_file() and all(saved.get(k) == v for k, v in params.items()):
            return folder / file
    except (OSError, ValueError):
        pass
    return None


def _finish(folder: Path, params: dict[str, Any], facts: dict[str, Any]) -> None:
    # Written last: an interrupted build is rebuilt, never taken for a finished one.
    (folder / PARAMS_FILE).write_text(json.dumps({**params, **facts}), encoding="utf-8")


def build_yolov5_checkpoint(folder: Path) -> Path:
    """``md_test_v5.pt``: YOLOv5n's layout at half its width, three classes, trained on the
    scene; its classes pickled under ``models.yolo`` as YOLOv5's own trainer (and so
    MegaDetector v5's checkpoint) has them."""
    from wildlens.training.converters.extra import import_yolov5

    folder.mkdir(parents=True, exist_ok=True)
    params = {"kind": "v5", "revision": REVISION, "steps": YOLOV5_STEPS, "torch": torch.__version__}
    cached = _cached(folder, "md_test_v5.pt", params)
    if cached is not None:
        return cached
    started = time.perf_counter()
    yolo = import_yolov5()
    import yaml
    from models.yolo import Model  # YOLOv5's trainer pickles this module name
    from yolov5.utils.loss import ComputeLoss

    root = Path(yolo.__file__).parent
    config = yaml.safe_load((root / "yolov5n.yaml").read_text())
    config.update(nc=len(LABELS), width_multiple=0.125)
    torch.manual_seed(0)
    model = Model(config, ch=3, nc=len(LABELS))
    model.hyp = yaml.safe_load((root.parent / "data" / "hyps" / "hyp.scratch-low.yaml").read_text())
    model.names = dict(enumerate(LABELS))
    images, (cx, cy, w, h) = _training_input()
    targets = torch.tensor([[0.0, 0.0, cx, cy, w, h]])
    compute = ComputeLoss(model)

    def loss() -> torch.Tensor:
        value, _ = compute(model(images), targets)
        return torch.as_tensor(value).sum()

    final = _train(model, loss, YOLOV5_STEPS)
    path = folder / "md_test_v5.pt"
    torch.save(
        {
            "epoch": -1,
            "best_fitness": None,
            "model": model.eval().half(),
            "ema": None,
            "updates": None,
            "optimizer": None,
            "opt": {"imgsz": CHECKPOINT_INPUT.width},
            "date": datetime.now(UTC).isoformat(),
        },
        path,
    )
    seconds = round(time.perf_counter() - started, 2)
    _finish(folder, params, {"final_loss": round(final, 5), "seconds": seconds})
    return path


def build_ultralytics_checkpoint(folder: Path) -> Path:
    """``md_test_v6.pt``: Ultralytics' ``yolov8n.yaml`` with three classes, trained on the
    scene, saved as Ultralytics saves final weights."""
    from wildlens.training.converters.extra import import_ultralytics

    folder.mkdir(parents=True, exist_ok=True)
    params = {
        "kind": "v6",
        "revision": REVISION,
        "steps": ULTRALYTICS_STEPS,
        "torch": torch.__version__,
    }
    cached = _cached(folder, "md_test_v6.pt", params)
    if cached is not None:
        return cached
    started = time.perf_counter()
    ultralytics = import_ultralytics()
    from ultralytics.cfg import get_cfg
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    # Any: Ultralytics sets attributes of its own on the module (args, names, criterion).
    model: Any = DetectionModel("yolov8n.yaml", nc=len(LABELS), verbose=False)  # type: ignore[no-untyped-call]
    arguments = {"task": "detect", "model": "yolov8n.yaml", "imgsz": CHECKPOINT_INPUT.width}
    model.args = get_cfg(overrides=arguments)
    model.names = dict(enumerate(LABELS))
    images, (cx, cy, w, h) = _training_input()
    batch = {
        "img": images,
        "batch_idx": torch.zeros(1),
        "cls": torch.zeros(1, 1),
        "bboxes": torch.tensor([[cx, cy, w, h]]),
    }

    def loss() -> torch.Tensor:
        value, _ = model.loss(batch)
        return torch.as_tensor(value).sum()

    final = _train(model, loss, ULTRALYTICS_STEPS)
    model.criterion = None
    model.args = arguments
    path = folder / "md_test_v6.pt"
    torch.save(
        {
            "date": datetime.now(UTC).isoformat(),
            "version": ultralytics.__version__,
            "license": "AGPL-3.0 License (https://ultralytics.com/license)",
            "epoch": -1,
            "best_fitness": None,
            "model": model.eval().half(),
            "ema": None,
            "updates": None,
            "optimizer": None,
            "train_args": arguments,
            "train_metrics": None,
            "train_results": None,
        },
        path,
    )
    seconds = round(time.perf_counter() - started, 2)
    _finish(folder, params, {"final_loss": round(final, 5), "seconds": seconds})
    return path
