from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from tests.support.tiny_models import (
    TINY_INPUT,
    export_onnx,
    generate_scene,
    load_tiny_torch,
    random_box,
)
from wildlens.common.bundles import BundleError, load_bundle, write_bundle
from wildlens.common.imaging import preprocess_batch
from wildlens.inference.models.detector import Detection, Detector

# Scene seeds far from anything the training set draws from its own generator.
FRESH = 900_000


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    return inter / (aw * ah + bw * bh - inter)


def assert_same(a: list[list[Detection]], b: list[list[Detection]]) -> None:
    assert [[d.category for d in f] for f in a] == [[d.category for d in f] for f in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose([d.bbox for d in x], [d.bbox for d in y], atol=1e-5)
        np.testing.assert_allclose([d.confidence for d in x], [d.confidence for d in y], atol=1e-5)


Box = tuple[float, float, float, float]


def scenes(count: int, size: tuple[int, int], seed: int) -> list[tuple[Image.Image, Box]]:
    rng = np.random.default_rng(seed)
    out: list[tuple[Image.Image, Box]] = []
    for i in range(count):
        box = random_box(rng)
        out.append((generate_scene(*size, box, seed=seed + i), box))
    return out


@pytest.fixture(scope="module")
def detector(tiny_detector_dir: Path) -> Detector:
    return Detector.from_path(tiny_detector_dir, intra_op_threads=1)


def test_onnx_matches_torch(tiny_detector_dir: Path) -> None:
    images = [image for image, _ in scenes(4, (300, 200), FRESH)]
    batch, _ = preprocess_batch(images, TINY_INPUT)
    bundle = load_bundle(tiny_detector_dir)
    session = ort.InferenceSession(str(bundle.onnx_path), providers=["CPUExecutionProvider"])

    onnx_boxes, onnx_scores, onnx_labels = session.run(None, {"images": batch})
    with torch.no_grad():
        torch_boxes, torch_scores, _ = load_tiny_torch(tiny_detector_dir)(torch.from_numpy(batch))

    assert np.abs(onnx_boxes - torch_boxes.numpy()).max() < 1e-4
    assert np.abs(onnx_scores - torch_scores.numpy()).max() < 1e-4
    assert onnx_labels.dtype == np.int64


@pytest.mark.parametrize("size", [(640, 480), (480, 640)])
def test_finds_the_rectangle_on_a_fresh_scene(detector: Detector, size: tuple[int, int]) -> None:
    [(image, box)] = scenes(1, size, FRESH + size[0])

    [found] = detector.detect([image])

    assert len(found) == 1
    assert found[0].category == "animal"
    assert found[0].confidence >= 0.5
    assert iou(found[0].bbox, box) >= 0.5


def test_batch_gives_what_single_images_give(detector: Detector) -> None:
    pairs = scenes(3, (400, 300), FRESH + 7) + scenes(2, (250, 500), FRESH + 17)
    images = [image for image, _ in pairs]

    together = detector.detect(images)
    alone = [detector.detect([image])[0] for image in images]

    assert_same(together, alone)
    boxes = [box for _, box in pairs]
    assert np.mean([iou(f[0].bbox, box) for f, box in zip(together, boxes, strict=True)]) >= 0.6
    assert detector.detect([]) == []


def test_model_with_a_fixed_batch_of_one_runs_image_by_image(
    detector: Detector, tiny_detector_dir: Path, tmp_path: Path
) -> None:
    fixed = export_onnx(load_tiny_torch(tiny_detector_dir), dynamic_batch=False)
    fields = detector.manifest.model_dump(exclude={"sha256"})
    single = Detector(write_bundle(tmp_path, fixed, fields))
    images = [image for image, _ in scenes(3, (320, 240), FRESH + 30)]

    assert_same(single.detect(images), detector.detect(images))


def test_exif_orientation_is_applied(detector: Detector) -> None:
    [(upright, box)] = scenes(1, (480, 640), FRESH + 40)
    # Stored as the sensor saw it (landscape) with a tag saying "rotate 90 degrees clockwise".
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif)

    [found] = detector.detect([Image.open(io.BytesIO(buffer.getvalue()))])

    assert iou(found[0].bbox, box) >= 0.5


def test_loads_lazily_and_reports_what_it_runs(tiny_detector_dir: Path) -> None:
    fresh = Detector.from_path(tiny_detector_dir)
    assert not fresh.loaded

    fresh.load()

    assert fresh.loaded
    assert (fresh.name, fresh.version) == ("tiny-detector", "0.1.0")
    assert fresh.sha256 == load_bundle(tiny_detector_dir).manifest.sha256
    assert fresh.providers[-1] == "CPUExecutionProvider"


def test_input_size_disagreeing_with_the_model_fails_on_load(
    detector: Detector, tmp_path: Path
) -> None:
    fields = detector.manifest.model_dump(exclude={"sha256"})
    fields["input"] = {**fields["input"], "width": 96, "height": 96}
    wrong = Detector(write_bundle(tmp_path, detector.bundle.onnx_path, fields))

    with pytest.raises(BundleError, match="takes 64x64 images but its manifest says 96x96"):
        wrong.load()


def test_classifier_bundle_is_not_a_detector(detector: Detector, tmp_path: Path) -> None:
    fields = detector.manifest.model_dump(exclude={"sha256"})
    fields.update(kind="classifier", decoder=None)

    with pytest.raises(BundleError, match="is a classifier, not a detector"):
        Detector(write_bundle(tmp_path, detector.bundle.onnx_path, fields))


def test_detection_is_relative_xywh() -> None:
    detection = Detection("animal", 0.9, (0.1, 0.2, 0.3, 0.4))
    assert detection.bbox[0] + detection.bbox[2] <= 1.0
