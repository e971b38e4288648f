"""Small real models for tests, trained in seconds on images generated here.

No weights can be downloaded where Wildlens is built, so the tests make their own: a tiny CNN
learns to find one rectangle on a noisy background, is exported to ONNX with the ``generic``
detector output (boxes, scores, labels) and written as a model bundle, which the inference
code then loads exactly as it would load a published detector.

The network predicts, per cell of a coarse map, how much of the cell the object covers; the
exported head turns that map into one box, so the ONNX graph speaks the detector layout while
training stays a quick segmentation problem.
"""

from __future__ import annotations

import io
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import nn

from wildlens.common.bundles import BundleError, InputSpec, load_bundle, write_bundle
from wildlens.common.imaging import preprocess

__all__ = [
    "CLASSIFIER_INPUT",
    "CLASSIFIER_LABELS",
    "TINY_INPUT",
    "TinyClassifier",
    "TinyDetector",
    "build_tiny_classifier",
    "build_tiny_detector",
    "export_classifier_onnx",
    "export_onnx",
    "generate_scene",
    "generate_species_scene",
    "load_tiny_classifier",
    "load_tiny_torch",
    "random_box",
]

TINY_INPUT = InputSpec(width=64, height=64)
STRIDE = 2
WEIGHTS_FILE = "tiny-detector.pt"
PARAMS_FILE = "tiny-build.json"
# Bump when the architecture, the scenes or the training change, so cached bundles are rebuilt.
BUILD_REVISION = 2
TRAINING_IMAGES = 384
BATCH = 16


def random_box(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A relative ``[x, y, w, h]`` box of the sizes the tiny detector is trained on."""
    w, h = rng.uniform(0.18, 0.6, size=2)
    x = rng.uniform(0.0, 1.0 - w)
    y = rng.uniform(0.0, 1.0 - h)
    return float(x), float(y), float(w), float(h)


def generate_scene(
    width: int, height: int, box_rel_xywh: tuple[float, float, float, float], seed: int
) -> Image.Image:
    """A noisy gradient background with one bright or striped rectangle at ``box_rel_xywh``."""
    rng = np.random.default_rng(seed)
    xs = np.arange(width, dtype=np.float32)[None, :, None] / width
    ys = np.arange(height, dtype=np.float32)[:, None, None] / height
    angle = rng.uniform(0, 2 * np.pi)
    base = rng.uniform(20, 100, size=3).astype(np.float32)
    slope = rng.uniform(-30, 30, size=3).astype(np.float32)
    noise = rng.standard_normal((height, width, 3), dtype=np.float32)
    pixels = base + (np.cos(angle) * xs + np.sin(angle) * ys) * slope + noise * 12

    x, y, w, h = box_rel_xywh
    x1, y1 = round(x * width), round(y * height)
    x2, y2 = max(x1 + 1, round((x + w) * width)), max(y1 + 1, round((y + h) * height))
    rh, rw = y2 - y1, x2 - x1
    bright = rng.uniform(195, 255, size=3).astype(np.float32)
    if rng.random() < 0.5:
        patch = np.broadcast_to(bright, (rh, rw, 3)).copy()
    else:
        # Stripes a few per box wide, so they survive shrinking to the model input.
        mid = rng.uniform(140, 185, size=3).astype(np.float32)
        period = max(2.0, min(rw, rh) / rng.uniform(3, 5))
        py, px = np.mgrid[0:rh, 0:rw].astype(np.float32)
        coord = px if rng.random() < 0.5 else py
        on = (coord // (period / 2)) % 2 == 0
        patch = np.where(on[..., None], bright, mid)
    pixels[y1:y2, x1:x2] = patch + rng.standard_normal((rh, rw, 3), dtype=np.float32) * 8
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


class TinyDetector(nn.Module):
    """A stride-2 stem and dilated convolutions to a coverage map, then a map-to-box head.

    Each cell of the 32x32 map predicts how much of it the object covers. Per axis, the
    columns (or rows) holding a good share of the peak mass give the extent: their summed
    weight is the width in cells and their weighted mean the centre, so boxes land between
    cell edges rather than on them.
    """

    def __init__(self, input_size: int = 64, width: int = 12) -> None:
        super().__init__()
        self.input_size = input_size
        self.cells = input_size // STRIDE
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, stride=STRIDE, padding=1), nn.ReLU()]
        for dilation in (1, 2, 4):
            layers += [nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation)]
            layers += [nn.ReLU()]
        layers.append(nn.Conv2d(width, 1, 1))
        self.body = nn.Sequential(*layers)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out[:, 0]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        coverage = torch.sigmoid(self.logits(x))
        score = coverage.amax(dim=(1, 2))
        cx, w = _extent(coverage.sum(dim=1))
        cy, h = _extent(coverage.sum(dim=2))
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1) * STRIDE
        labels = torch.zeros_like(score, dtype=torch.int64)
        return boxes[:, None, :], score[:, None], labels[:, None]


def _extent(profile: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Inside the object a profile is flat at its peak; cells below a quarter of the peak are
    # stray activations elsewhere and are dropped rather than let pull the centre.
    weight = (profile / profile.amax(dim=1, keepdim=True).clamp_min(1e-6)).clamp(0.0, 1.0)
    weight = torch.where(weight >= 0.25, weight, torch.zeros_like(weight))
    # Cell centres counted along the profile rather than from a fixed count, so the exported
    # graph takes inputs of any height and width.
    index = torch.cumsum(torch.ones_like(profile), dim=1) - 0.5
    size = weight.sum(dim=1).clamp_min(1e-6)
    centre = (weight * index).sum(dim=1) / size
    return centre, size


def _coverage(start: float, end: float, cells: int) -> npt.NDArray[np.float32]:
    """How much of each map cell along one axis lies within [start, end) (input pixels)."""
    edges = np.arange(cells, dtype=np.float32) * STRIDE
    covered = np.minimum(end, edges + STRIDE) - np.maximum(start, edges)
    return np.clip(covered / STRIDE, 0.0, 1.0).astype(np.float32)


def _training_set(count: int, seed: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    rng = np.random.default_rng(seed)
    spec = TINY_INPUT
    cells = spec.width // STRIDE
    images = np.empty((count, 3, spec.height, spec.width), dtype=np.float32)
    maps = np.zeros((count, cells, cells), dtype=np.float32)
    for i in range(count):
        width, height = (int(v) for v in rng.integers(72, 200, size=2))
        box = random_box(rng)
        scene = generate_scene(width, height, box, seed=int(rng.integers(1 << 31)))
        # Exactly the preprocessing inference applies, so the model sees the same letterbox.
        images[i], transform = preprocess(scene, spec)
        x, y, w, h = box
        x1, y1, x2, y2 = transform.to_input_xyxy(
            [[x * width, y * height, (x + w) * width, (y + h) * height]]
        )[0]
        maps[i] = np.outer(_coverage(y1, y2, cells), _coverage(x1, x2, cells))
    return images, maps


def _params(seed: int, steps: int) -> dict[str, Any]:
    return {"revision": BUILD_REVISION, "seed": seed, "steps": steps, "torch": torch.__version__}


def _cached(folder: Path, params: dict[str, Any]) -> bool:
    try:
        load_bundle(folder)
        stored = json.loads((folder / PARAMS_FILE).read_text(encoding="utf-8"))
    except (BundleError, OSError, ValueError):
        return False
    return bool(stored == params and (folder / WEIGHTS_FILE).is_file())


def build_tiny_detector(folder: Path, *, seed: int = 0, steps: int = 200) -> Path:
    """Train, export and bundle the tiny detector in ``folder``; reuse an identical build.

    Returns the bundle folder. The torch weights are kept beside the bundle
    (``load_tiny_torch``) so tests can compare ONNX against torch.
    """
    folder = Path(folder)
    params = _params(seed, steps)
    if _cached(folder, params):
        return folder
    started = time.perf_counter()
    model, final_loss = _train(seed, steps)
    train_seconds = time.perf_counter() - started

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / WEIGHTS_FILE)
    write_bundle(
        folder,
        export_onnx(model),
        {
            "name": "tiny-detector",
            "version": "0.1.0",
            "kind": "detector",
            "input": TINY_INPUT.model_dump(),
            "decoder": "generic",
            "labels": [{"label": "animal"}],
            "training": {
                "images": TRAINING_IMAGES,
                "steps": steps,
                "seed": seed,
                "final_loss": round(final_loss, 5),
                "seconds": round(train_seconds, 2),
            },
        },
    )
    # Written last: a build interrupted earlier is rebuilt, never taken for a finished one.
    (folder / PARAMS_FILE).write_text(json.dumps(params), encoding="utf-8")
    return folder


def _train(seed: int, steps: int) -> tuple[TinyDetector, float]:
    torch.manual_seed(seed)
    images, maps = _training_set(TRAINING_IMAGES, seed)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(maps)
    model = TinyDetector(TINY_INPUT.width)
    optimiser = torch.optim.Adam(model.parameters(), lr=4e-3)
    generator = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    # Layers this small run faster on one thread than split across several.
    torch.set_num_threads(1)
    try:
        model.train()
        loss = torch.zeros(())
        for _ in range(steps):
            batch = torch.randint(0, len(x_all), (BATCH,), generator=generator)
            loss = nn.functional.binary_cross_entropy_with_logits(
                model.logits(x_all[batch]), y_all[batch]
            )
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval(), float(loss.detach())


def export_onnx(
    model: TinyDetector, *, dynamic_batch: bool = True, any_size: bool = False
) -> bytes:
    """The model as ONNX bytes; with a fixed batch of 1 unless ``dynamic_batch``, and taking
    any input height and width with ``any_size``."""
    buffer = io.BytesIO()
    names = ("images", "boxes", "scores", "labels")
    # The TorchScript exporter warns about its own deprecation and tracing details; the suite
    # turns warnings into errors, and the exported graph is checked against torch in the tests.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, model.input_size, model.input_size),),
            buffer,  # type: ignore[arg-type]  # file objects work; the annotation says paths
            input_names=[names[0]],
            output_names=list(names[1:]),
            dynamic_axes=_dynamic_axes(names, dynamic_batch, any_size),
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()


def _dynamic_axes(
    names: tuple[str, ...], batch: bool, any_size: bool
) -> dict[str, dict[int, str]] | None:
    axes: dict[str, dict[int, str]] = {name: {0: "batch"} for name in names} if batch else {}
    if any_size:
        axes.setdefault(names[0], {}).update({2: "height", 3: "width"})
    return axes or None


def load_tiny_torch(folder: Path) -> TinyDetector:
    """The torch model a ``build_tiny_detector`` folder was exported from, in eval mode."""
    model = TinyDetector(TINY_INPUT.width)
    model.load_state_dict(torch.load(Path(folder) / WEIGHTS_FILE, weights_only=True))
    return model.eval()


# --- The tiny species classifier -------------------------------------------------------------
#
# Three "species" told apart by the tint of their rectangle, all bright enough for the tiny
# detector to find. The classifier learns on square crops made exactly as inference makes
# them, and is exported with raw logits (inference applies the softmax), as most classifier
# exports are.

CLASSIFIER_INPUT = InputSpec(width=32, height=32, letterbox=False)
CLASSIFIER_LABELS: tuple[tuple[str, str], ...] = (
    ("grey-heron", "Ardea cinerea"),
    ("great-egret", "Ardea alba"),
    ("mallard", "Anas platyrhynchos"),
)
SPECIES_TINTS: tuple[tuple[float, float, float], ...] = (
    (250.0, 200.0, 200.0),
    (200.0, 250.0, 200.0),
    (200.0, 200.0, 250.0),
)
CLASSIFIER_WEIGHTS_FILE = "tiny-classifier.pt"
CLASSIFIER_REVISION = 1
CLASSIFIER_IMAGES = 240


def generate_species_scene(
    width: int,
    height: int,
    box_rel_xywh: tuple[float, float, float, float],
    species: int,
    seed: int,
    *,
    blend: float = 0.0,
    towards: int = 0,
) -> Image.Image:
    """A scene as :func:`generate_scene` makes it, the rectangle tinted as ``species``, or
    ``blend`` of the way towards the tint of species ``towards`` (an animal hard to tell)."""
    scene = np.asarray(generate_scene(width, height, box_rel_xywh, seed), dtype=np.float32).copy()
    rng = np.random.default_rng(seed + 1)
    x, y, w, h = box_rel_xywh
    x1, y1 = round(x * width), round(y * height)
    x2, y2 = max(x1 + 1, round((x + w) * width)), max(y1 + 1, round((y + h) * height))
    tint = (1 - blend) * np.asarray(SPECIES_TINTS[species], dtype=np.float32)
    tint += blend * np.asarray(SPECIES_TINTS[towards], dtype=np.float32)
    noise = rng.standard_normal((y2 - y1, x2 - x1, 3), dtype=np.float32) * 6
    scene[y1:y2, x1:x2] = tint + noise
    return Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8), "RGB")


class TinyClassifier(nn.Module):
    """Two convolutions, global average pooling, one score per label."""

    def __init__(self, labels: int = len(CLASSIFIER_LABELS), width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(width, labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.body(x).mean(dim=(2, 3))
        logits: torch.Tensor = self.head(features)
        return logits


def _classifier_set(count: int, seed: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    from wildlens.common.imaging import square_crop

    rng = np.random.default_rng(seed)
    images = np.empty((count, 3, CLASSIFIER_INPUT.height, CLASSIFIER_INPUT.width), np.float32)
    species = rng.integers(0, len(CLASSIFIER_LABELS), size=count)
    for i in range(count):
        width, height = (int(v) for v in rng.integers(72, 200, size=2))
        box = random_box(rng)
        scene = generate_species_scene(
            width, height, box, int(species[i]), seed=int(rng.integers(1 << 31))
        )
        images[i], _ = preprocess(square_crop(scene, box), CLASSIFIER_INPUT)
    return images, species.astype(np.int64)


def build_tiny_classifier(folder: Path, *, seed: int = 0, steps: int = 400) -> Path:
    """Train, export and bundle the tiny classifier in ``folder``; reuse an identical build.
    The torch weights stay beside the bundle (``load_tiny_classifier``)."""
    folder = Path(folder)
    params = {
        "revision": CLASSIFIER_REVISION,
        "seed": seed,
        "steps": steps,
        "torch": torch.__version__,
    }
    try:
        load_bundle(folder)
        stored = json.loads((folder / PARAMS_FILE).read_text(encoding="utf-8"))
        if stored == params and (folder / CLASSIFIER_WEIGHTS_FILE).is_file():
            return folder
    except (BundleError, OSError, ValueError):
        pass
    torch.manual_seed(seed)
    images, species = _classifier_set(CLASSIFIER_IMAGES, seed)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(species)
    model = TinyClassifier()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.train()
        loss = torch.zeros(())
        for _ in range(steps):
            batch = torch.randint(0, len(x_all), (BATCH,), generator=generator)
            loss = nn.functional.cross_entropy(model(x_all[batch]), y_all[batch])
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / CLASSIFIER_WEIGHTS_FILE)
    write_bundle(
        folder,
        export_classifier_onnx(model),
        {
            "name": "tiny-classifier",
            "version": "0.1.0",
            "kind": "classifier",
            "input": CLASSIFIER_INPUT.model_dump(),
            "labels": [
                {"label": label, "scientific_name": name} for label, name in CLASSIFIER_LABELS
            ],
            "training": {
                "images": CLASSIFIER_IMAGES,
                "steps": steps,
                "seed": seed,
                "final_loss": round(float(loss.detach()), 5),
            },
        },
    )
    (folder / PARAMS_FILE).write_text(json.dumps(params), encoding="utf-8")
    return folder


def export_classifier_onnx(model: TinyClassifier) -> bytes:
    """The classifier as ONNX bytes, with a dynamic batch axis and raw logits out."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, CLASSIFIER_INPUT.height, CLASSIFIER_INPUT.width),),
            buffer,  # type: ignore[arg-type]
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()


def load_tiny_classifier(folder: Path) -> TinyClassifier:
    """The torch model a ``build_tiny_classifier`` folder was exported from, in eval mode."""
    model = TinyClassifier()
    model.load_state_dict(torch.load(Path(folder) / CLASSIFIER_WEIGHTS_FILE, weights_only=True))
    return model.eval()
