"""A tiny detector overfitted on the ten real heron images of the Camtrap DP example.

The network is the tiny detector's (``TinyDetector``: a coverage map turned into one box in the
graph), at 128 px so that a heron a seventh of the frame wide still spans several cells. It
learns from the images exactly as inference letterboxes them, with coverage maps made from the
observations' boxes (Camtrap DP's relative ``bboxX/Y/Width/Height``), and is exported to ONNX
with the ``generic`` layout and written as a model bundle, then served like any other.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import nn

from tests.support.tiny_models import STRIDE, TinyDetector, export_onnx
from wildlens.common.bundles import BundleError, InputSpec, load_bundle, write_bundle
from wildlens.common.imaging import preprocess

__all__ = ["HERON_INPUT", "build_heron_detector", "heron_boxes"]

HERON_INPUT = InputSpec(width=128, height=128)
PARAMS_FILE = "heron-build.json"
# Bump when the network, the data or the training change, so that cached bundles are rebuilt.
REVISION = 1
STEPS = 120


def heron_boxes(example: Path) -> dict[str, tuple[float, float, float, float]]:
    """File name → the heron's relative ``[x, y, w, h]`` for the example's images that have a
    file in ``media/`` and a box in ``observations.csv``."""
    with (example / "media.csv").open(newline="") as fh:
        names = {row["mediaID"]: row["fileName"] for row in csv.DictReader(fh)}
    boxes: dict[str, tuple[float, float, float, float]] = {}
    with (example / "observations.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            name = names.get(row["mediaID"])
            if name and row["bboxX"] and (example / "media" / name).is_file():
                boxes[name] = (
                    float(row["bboxX"]),
                    float(row["bboxY"]),
                    float(row["bboxWidth"]),
                    float(row["bboxHeight"]),
                )
    return boxes


def _coverage(start: float, end: float, cells: int) -> npt.NDArray[np.float32]:
    """How much of each map cell along one axis lies within [start, end) (input pixels)."""
    edges = np.arange(cells, dtype=np.float32) * STRIDE
    covered = np.minimum(end, edges + STRIDE) - np.maximum(start, edges)
    return np.clip(covered / STRIDE, 0.0, 1.0).astype(np.float32)


def _training_set(
    example: Path, *, rectangular: bool = False
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    boxes = heron_boxes(example)
    images: list[npt.NDArray[np.float32]] = []
    maps: list[npt.NDArray[np.float32]] = []
    for name, (x, y, w, h) in sorted(boxes.items()):
        with Image.open(example / "media" / name) as image:
            # The letterbox inference applies, so the model sees what it will be served.
            tensor, transform = preprocess(
                image.convert("RGB"), HERON_INPUT, rectangular=rectangular
            )
            width, height = image.size
        x1, y1, x2, y2 = transform.to_input_xyxy(
            [[x * width, y * height, (x + w) * width, (y + h) * height]]
        )[0]
        rows, columns = transform.input_height // STRIDE, transform.input_width // STRIDE
        images.append(tensor)
        maps.append(np.outer(_coverage(y1, y2, rows), _coverage(x1, x2, columns)))
    return np.stack(images), np.stack(maps).astype(np.float32)


def _train(example: Path, seed: int, *, any_size: bool = False) -> tuple[TinyDetector, float]:
    """Trained on the square letterbox; with ``any_size`` on the rectangular one as well, as
    YOLO models are trained on both (Ultralytics' ``rect`` batches) before they are served
    with any input size."""
    torch.manual_seed(seed)
    sets = [_training_set(example)]
    if any_size:
        sets.append(_training_set(example, rectangular=True))
    tensors = [(torch.from_numpy(images), torch.from_numpy(maps)) for images, maps in sets]
    model = TinyDetector(HERON_INPUT.width, width=16)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.train()
        loss = torch.zeros(())
        for _ in range(STEPS):
            loss = sum(
                (
                    nn.functional.binary_cross_entropy_with_logits(model.logits(x), y)
                    for x, y in tensors
                ),
                torch.zeros(()),
            ) / len(tensors)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval(), float(loss.detach())


def build_heron_detector(
    folder: Path, example: Path, *, seed: int = 0, any_size: bool = False
) -> Path:
    """Train, export and bundle the heron detector in ``folder``; reuse an identical build.

    With ``any_size`` the ONNX input takes any height and width (as YOLO exports with dynamic
    axes do), so inference letterboxes it rectangularly, to multiples of 32 as for YOLO.
    """
    folder = Path(folder)
    params = {"revision": REVISION, "seed": seed, "steps": STEPS, "torch": torch.__version__}
    if any_size:
        params["any_size"] = True
    try:
        load_bundle(folder)
        if json.loads((folder / PARAMS_FILE).read_text(encoding="utf-8")) == params:
            return folder
    except (BundleError, OSError, ValueError):
        pass
    started = time.perf_counter()
    model, final_loss = _train(example, seed, any_size=any_size)
    write_bundle(
        folder,
        export_onnx(model, any_size=any_size),
        {
            "name": "heron-detector",
            "version": "0.1.0",
            "kind": "detector",
            "input": HERON_INPUT.model_dump(),
            "decoder": "generic",
            "labels": [{"label": "animal"}],
            "training": {
                "images": len(heron_boxes(example)),
                "steps": STEPS,
                "seed": seed,
                "final_loss": round(final_loss, 5),
                "seconds": round(time.perf_counter() - started, 2),
            },
        },
    )
    # Written last: an interrupted build is rebuilt, never taken for a finished one.
    (folder / PARAMS_FILE).write_text(json.dumps(params), encoding="utf-8")
    return folder
