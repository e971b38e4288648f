"""The YOLO output layouts published detectors have, exported from torch and served by us.

A small YOLOv5 with the anchor-based head (MegaDetector v5's layout) and Ultralytics' YOLOv8n
(the MegaDetector v6 family's layout), both untrained, are exported to ONNX and loaded as
bundles; the ONNX outputs must have the real models' shapes and match torch, and each decoder
must turn one strong anchor of its layout into one box at the right place in the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from tests.support.yolo_models import (
    LABELS,
    YoloV5,
    build_yolov8,
    export_onnx,
    write_yolo_bundle,
)
from wildlens.common.bundles import DecodeConfig, InputSpec, decode
from wildlens.common.imaging import Letterbox, preprocess
from wildlens.inference.models.detector import Detector

SIZE = 320
MEDIA = Path(__file__).resolve().parents[1] / "data" / "camtrap-dp" / "example" / "media"
# Anchors per image at 320 px: strides 8/16/32 give 40x40 + 20x20 + 10x10 cells.
CELLS_320 = 40 * 40 + 20 * 20 + 10 * 10


@pytest.fixture(scope="module")
def yolov5() -> YoloV5:
    torch.manual_seed(0)
    return YoloV5(depth=0.33, width=0.125, levels=3).eval()


@pytest.fixture(scope="module")
def yolov8() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_yolov8("yolov8n.yaml")


@pytest.fixture(scope="module")
def yolov5_bundle(yolov5: YoloV5, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("yolov5")
    onnx = export_onnx(yolov5, SIZE, dynamic_batch=True)
    return write_yolo_bundle(folder, onnx, decoder="megadetector-v5", size=SIZE, name="v5")


@pytest.fixture(scope="module")
def yolov8_bundle(yolov8: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("yolov8")
    onnx = export_onnx(yolov8, SIZE, dynamic_batch=True)
    return write_yolo_bundle(folder, onnx, decoder="yolov8", size=SIZE, name="v8")


@pytest.fixture(scope="module")
def camera_batch() -> npt.NDArray[np.float32]:
    """Two real camera-trap frames, letterboxed by the service's own preprocessing."""
    spec = InputSpec(width=SIZE, height=SIZE)
    tensors = []
    for path in sorted(MEDIA.glob("*.JPG"))[:2]:
        with Image.open(path) as image:
            tensors.append(preprocess(image, spec)[0])
    return np.stack(tensors)


def _onnx_output(bundle: Path, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"images": batch})
    return np.asarray(output, dtype=np.float32)


def _torch_output(
    model: torch.nn.Module, batch: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    with torch.no_grad():
        return np.asarray(model(torch.from_numpy(batch)).numpy(), dtype=np.float32)


def test_yolov5_export_has_megadetector_v5_layout(
    yolov5_bundle: Path, camera_batch: npt.NDArray[np.float32]
) -> None:
    output = _onnx_output(yolov5_bundle, camera_batch)
    # [B, 3 anchors x cells, cx cy w h objectness + 3 classes]
    assert output.shape == (2, 3 * CELLS_320, 5 + len(LABELS))
    scores = output[..., 4:]
    assert scores.min() >= 0.0
    assert scores.max() <= 1.0  # objectness and classes leave the graph after the sigmoid


def test_yolov5_p6_at_1280_has_megadetector_v5_anchor_count() -> None:
    # MegaDetector v5 (YOLOv5x6, 1280 px) outputs [1, 102000, 8]: 3 x (160² + 80² + 40² + 20²).
    model = YoloV5(depth=0.33, width=0.125, levels=4).eval()
    with torch.no_grad():
        output = model(torch.zeros(1, 3, 1280, 1280))
    assert tuple(output.shape) == (1, 102_000, 8)


def test_yolov8_export_has_ultralytics_layout(
    yolov8_bundle: Path, camera_batch: npt.NDArray[np.float32]
) -> None:
    output = _onnx_output(yolov8_bundle, camera_batch)
    # [B, 4 box values + 3 classes, anchor points]; no objectness row.
    assert output.shape == (2, 4 + len(LABELS), CELLS_320)


@pytest.mark.parametrize("which", ["yolov5", "yolov8"])
def test_onnx_matches_torch(
    which: str,
    request: pytest.FixtureRequest,
    camera_batch: npt.NDArray[np.float32],
) -> None:
    model = request.getfixturevalue(which)
    bundle = request.getfixturevalue(f"{which}_bundle")
    expected = _torch_output(model, camera_batch)
    actual = _onnx_output(bundle, camera_batch)
    # Boxes are in pixels (up to 320), so the tolerance is relative for them, absolute for
    # the scores in [0, 1].
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("which", ["yolov5_bundle", "yolov8_bundle"])
def test_detector_serves_the_export(which: str, request: pytest.FixtureRequest) -> None:
    detector = Detector.from_path(request.getfixturevalue(which))
    with Image.open(sorted(MEDIA.glob("*.JPG"))[0]) as image:
        results = detector.detect([image, image.copy()])
    assert len(results) == 2
    for found in results:
        for detection in found:
            assert detection.category in LABELS
            assert all(0.0 <= v <= 1.0 for v in detection.bbox)


# A 2048x1440 frame letterboxed to 320: scale 0.15625 gives 320x225, 47 px of padding on top.
# The relative box (0.25, 0.4, 0.3, 0.2) is x 80..176 and y 137..182 in input pixels.
FRAME = (2048, 1440)
EXPECTED_BOX = (0.25, 0.4, 0.3, 0.2)
CX, CY, W, H = 128.0, 159.5, 96.0, 45.0


def _relative(
    bundle: Path, decoder_output: npt.NDArray[np.float32]
) -> list[tuple[str, float, npt.NDArray[np.float64]]]:
    detector = Detector.from_path(bundle)
    manifest = detector.manifest
    assert manifest.decoder is not None
    raw = decode(
        manifest.decoder, {"output0": decoder_output}, DecodeConfig.from_manifest(manifest)
    )
    transform = Letterbox.plan(*FRAME, manifest.input)
    assert (transform.pad_x, transform.pad_y, transform.resized_size) == (0, 47, (320, 225))
    boxes = transform.to_relative_xywh([d.box_xyxy for d in raw[0]])
    return [(LABELS[d.label_index], d.score, box) for d, box in zip(raw[0], boxes, strict=True)]


def test_megadetector_v5_decoder_places_one_strong_anchor(yolov5_bundle: Path) -> None:
    raw = np.zeros((1, 3 * CELLS_320, 5 + len(LABELS)), dtype=np.float32)
    raw[0, :, :4] = (160.0, 160.0, 20.0, 20.0)
    raw[0, 1234] = (CX, CY, W, H, 0.9, 0.05, 0.95, 0.1)  # a person, score 0.9 x 0.95
    raw[0, 1235] = (CX + 2, CY, W, H, 0.8, 0.05, 0.9, 0.1)  # its weaker twin, for NMS
    raw[0, 4000] = (40.0, 100.0, 30.0, 30.0, 0.3, 0.5, 0.1, 0.1)  # 0.15: under the 0.2 floor
    found = _relative(yolov5_bundle, raw)
    assert len(found) == 1
    label, score, box = found[0]
    assert label == "person"
    assert score == pytest.approx(0.9 * 0.95, abs=1e-6)
    np.testing.assert_allclose(box, EXPECTED_BOX, atol=1e-6)


def test_yolov8_decoder_places_one_strong_anchor(yolov8_bundle: Path) -> None:
    raw = np.zeros((1, 4 + len(LABELS), CELLS_320), dtype=np.float32)
    raw[0, :4, :] = np.array([160.0, 160.0, 20.0, 20.0])[:, None]
    raw[0, :, 777] = (CX, CY, W, H, 0.1, 0.05, 0.92)  # a vehicle
    raw[0, :, 778] = (CX, CY + 2, W, H, 0.1, 0.05, 0.85)  # its weaker twin, for NMS
    raw[0, :, 1500] = (40.0, 100.0, 30.0, 30.0, 0.15, 0.0, 0.0)  # under the 0.2 floor
    found = _relative(yolov8_bundle, raw)
    assert len(found) == 1
    label, score, box = found[0]
    assert label == "vehicle"
    assert score == pytest.approx(0.92, abs=1e-6)
    np.testing.assert_allclose(box, EXPECTED_BOX, atol=1e-6)
