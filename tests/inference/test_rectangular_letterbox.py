"""Rectangular letterboxing: models that take any input size get the smallest rectangle of
stride multiples holding the image, boxes come back exactly, and the herons are found where
the square letterbox finds them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import DATA
from tests.support.heron_detector import build_heron_detector, heron_boxes
from wildlens.common.bundles import InputSpec
from wildlens.common.imaging import Letterbox, preprocess
from wildlens.inference.analysis.batcher import MicroBatcher
from wildlens.inference.models.detector import Detection, Detector

YOLO_640 = InputSpec(width=640, height=640)


def test_a_camera_trap_frame_is_padded_to_the_next_stride_multiple_only() -> None:
    landscape = Letterbox.plan(2048, 1440, YOLO_640, rectangular=True)
    portrait = Letterbox.plan(1440, 2048, YOLO_640, rectangular=True)

    # 2048x1440 at 640: scaled to 640x450; 450 rounds up to 480 (15 rows above and below).
    assert (landscape.resized_size, landscape.input_size) == ((640, 450), (640, 480))
    assert (landscape.pad_x, landscape.pad_y) == (0, 15)
    assert (portrait.resized_size, portrait.input_size) == ((450, 640), (480, 640))
    assert (portrait.pad_x, portrait.pad_y) == (15, 0)
    # The square letterbox scales the same, and pads to the full size.
    square = Letterbox.plan(2048, 1440, YOLO_640)
    assert (square.resized_size, square.input_size, square.pad_y) == ((640, 450), (640, 640), 95)


def test_the_stride_comes_from_the_manifest() -> None:
    p6 = InputSpec(width=1280, height=1280, stride=64)

    plan = Letterbox.plan(2048, 1536, p6, rectangular=True)

    # 2048x1536 at 1280: 1280x960, already a multiple of 64: no padding at all.
    assert (plan.input_size, plan.pad_x, plan.pad_y) == ((1280, 960), 0, 0)
    assert Letterbox.plan(1000, 710, p6, rectangular=True).input_size == (1280, 960)
    assert InputSpec(width=640, height=640).stride == 32  # manifests without one


def test_boxes_map_back_exactly_from_a_rectangle() -> None:
    # 1000x710 at 640: ratio 0.64, resized 640x454, input 640x480, pad_y (480 - 454) // 2 = 13.
    plan = Letterbox.plan(1000, 710, YOLO_640, rectangular=True)
    assert (plan.resized_size, plan.input_size, plan.pad_y) == ((640, 454), (640, 480), 13)

    # A box from x 64 to 128 and over the image's full height (rows 13 to 467 of the input).
    rel = plan.to_relative_xywh([[64, 13, 128, 467], [320, 240, 640, 480]])

    np.testing.assert_allclose(rel[0], [0.1, 0.0, 0.1, 1.0], atol=1e-12)
    # From the input's centre to its corner: x 0.5..1, y (240 - 13) / 454 .. the image bottom.
    np.testing.assert_allclose(rel[1], [0.5, 227 / 454, 0.5, 1 - 227 / 454], atol=1e-12)
    # And a box in image pixels goes into the input and back unchanged.
    box = [[100.0, 200.0, 300.0, 400.0]]
    back = plan.to_relative_xywh(plan.to_input_xyxy(box).astype(np.float64))
    np.testing.assert_allclose(back[0], [0.1, 200 / 710, 0.2, 200 / 710], atol=1e-6)


def test_the_rectangle_holds_the_same_pixels_as_the_square() -> None:
    image = Image.effect_noise((400, 300), 60).convert("RGB")
    spec = InputSpec(width=64, height=64, stride=16)

    rect, rect_plan = preprocess(image, spec, rectangular=True)
    square, square_plan = preprocess(image, spec)

    assert rect.shape == (3, 48, 64)
    assert square.shape == (3, 64, 64)
    assert (rect_plan.pad_y, square_plan.pad_y) == (0, 8)
    np.testing.assert_array_equal(rect, square[:, 8:56, :])


@pytest.fixture(scope="module")
def any_size_herons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The heron detector of the end-to-end tests, exported to take any input size."""
    return build_heron_detector(tmp_path_factory.mktemp("herons"), DATA, any_size=True)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _kept(detector: Detector, found: list[Detection]) -> list[Detection]:
    return [d for d in found if d.confidence >= detector.manifest.threshold_for(d.category)]


def test_the_herons_are_found_where_the_square_letterbox_finds_them(
    any_size_herons: Path,
) -> None:
    rectangular = Detector.from_path(any_size_herons)
    square = Detector.from_path(any_size_herons, rectangular=False)
    truth = heron_boxes(DATA)
    images = [Image.open(DATA / "media" / name) for name in sorted(truth)]
    assert len(images) == 10

    assert rectangular.rectangular
    assert not square.rectangular
    assert {rectangular.prepare(image).shape for image in images} == {(96, 128)}
    assert {square.prepare(image).shape for image in images} == {(128, 128)}
    by_rectangle = rectangular.detect(images)
    by_square = square.detect(images)

    for name, rect_found, square_found in zip(sorted(truth), by_rectangle, by_square, strict=True):
        rect_kept, square_kept = _kept(rectangular, rect_found), _kept(square, square_found)
        assert square_kept, f"the square letterbox finds no heron in {name}"
        assert [d.category for d in rect_kept] == [d.category for d in square_kept], name
        for rect_box, square_box in zip(rect_kept, square_kept, strict=True):
            assert _iou(rect_box.bbox, square_box.bbox) >= 0.9, (name, rect_box, square_box)


def test_a_square_input_model_stays_square(tiny_detector_dir: Path) -> None:
    detector = Detector.from_path(tiny_detector_dir)  # exported for 64x64 only

    prepared = detector.prepare(Image.new("RGB", (320, 240)))

    assert not detector.rectangular
    assert prepared.shape == (64, 64)


def test_images_of_two_shapes_in_one_call_each_get_their_own_run(any_size_herons: Path) -> None:
    detector = Detector.from_path(any_size_herons)
    heron = Image.open(DATA / "media" / sorted(heron_boxes(DATA))[0]).convert("RGB")
    upright = heron.transpose(Image.Transpose.ROTATE_90)

    together = detector.detect([heron, upright, heron])
    alone = [detector.detect([image])[0] for image in (heron, upright, heron)]

    assert [detector.prepare(i).shape for i in (heron, upright)] == [(96, 128), (128, 96)]
    # In the order given, each as it is found on its own (up to the batch's rounding).
    assert [[d.category for d in found] for found in together] == [
        [d.category for d in found] for found in alone
    ]
    for mixed, single in zip(together, alone, strict=True):
        assert mixed, "the heron is found whichever way up"
        np.testing.assert_allclose([d.bbox for d in mixed], [d.bbox for d in single], atol=1e-5)


async def test_the_batcher_runs_each_shape_in_batches_of_its_own() -> None:
    batches: list[list[str]] = []

    def run(model: str, items: Sequence[str]) -> list[str]:
        batches.append(list(items))
        return list(items)

    batcher: MicroBatcher[str, str, str] = MicroBatcher(run, max_batch=3, max_wait=0.05)
    shapes = ["wide", "tall", "wide", "tall", "wide", "tall"]
    # Two deployments' images arrive interleaved; each batch takes one shape, filled up.
    results = await asyncio.gather(
        *(batcher.submit("m", f"{shape}{i}", shape) for i, shape in enumerate(shapes))
    )
    await batcher.close()

    assert results == [f"{shape}{i}" for i, shape in enumerate(shapes)]
    assert batches == [["wide0", "wide2", "wide4"], ["tall1", "tall3", "tall5"]]
