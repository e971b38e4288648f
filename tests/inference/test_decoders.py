from __future__ import annotations

import numpy as np
import pytest

from wildlens.common.bundles import DecodeConfig, RawDetection, decode, nms


def config(*thresholds: float, iou: float = 0.45, cap: int = 300) -> DecodeConfig:
    return DecodeConfig(np.array(thresholds, dtype=np.float32), iou, cap)


def boxes_of(detections: list[RawDetection]) -> list[tuple[int, float, tuple[float, ...]]]:
    return [(d.label_index, round(d.score, 6), d.box_xyxy) for d in detections]


def test_generic_thresholds_then_suppresses_same_class_overlaps_only() -> None:
    boxes = np.array(
        [
            [
                [10, 10, 50, 50],  # animal 0.9
                [12, 12, 52, 52],  # animal 0.8, IoU 0.82 with the first: suppressed
                [11, 11, 51, 51],  # person 0.7, same place, other class: kept
                [100, 100, 120, 130],  # animal 0.3: above the animal threshold
                [200, 200, 220, 220],  # person 0.3: below the person threshold
            ]
        ],
        dtype=np.float32,
    )
    scores = np.array([[0.9, 0.8, 0.7, 0.3, 0.3]], dtype=np.float32)
    labels = np.array([[0, 0, 1, 0, 1]], dtype=np.int64)

    [found] = decode(
        "generic", {"boxes": boxes, "scores": scores, "labels": labels}, config(0.2, 0.5)
    )

    assert boxes_of(found) == [
        (0, 0.9, (10.0, 10.0, 50.0, 50.0)),
        (1, 0.7, (11.0, 11.0, 51.0, 51.0)),
        (0, 0.3, (100.0, 100.0, 120.0, 130.0)),
    ]


def test_generic_reads_outputs_in_order_when_unnamed_and_per_image() -> None:
    boxes = np.array([[[0, 0, 10, 10]], [[5, 5, 20, 25]]], dtype=np.float32)
    scores = np.array([[0.1], [0.6]], dtype=np.float32)
    labels = np.array([[0], [0]], dtype=np.int64)

    found = decode("generic", [boxes, scores, labels], config(0.2))

    assert [boxes_of(f) for f in found] == [[], [(0, 0.6, (5.0, 5.0, 20.0, 25.0))]]


def test_yolov8_converts_centre_boxes_and_picks_the_best_class() -> None:
    # [B, 4 + C, A] with C = 2 and three anchors, written anchor by anchor then transposed.
    anchors = np.array(
        [
            [50, 40, 20, 10, 0.10, 0.85],  # class 1 at 0.85 -> box (40, 35, 60, 45)
            [51, 40, 20, 10, 0.05, 0.60],  # class 1, IoU 0.9 with the first: suppressed
            [50, 40, 20, 10, 0.70, 0.00],  # class 0 at the same place: kept
        ],
        dtype=np.float32,
    )
    raw = anchors.T[None]  # [1, 6, 3]

    [found] = decode("yolov8", {"output0": raw}, config(0.25, 0.25))

    assert boxes_of(found) == [
        (1, 0.85, (40.0, 35.0, 60.0, 45.0)),
        (0, 0.7, (40.0, 35.0, 60.0, 45.0)),
    ]


def test_yolov8_accepts_anchor_major_layout() -> None:
    raw = np.array([[[50, 40, 20, 10, 0.1, 0.85]]], dtype=np.float32)  # [1, 1, 6]

    [found] = decode("yolov8", [raw], config(0.25, 0.25))

    assert boxes_of(found) == [(1, 0.85, (40.0, 35.0, 60.0, 45.0))]


def test_megadetector_v5_scores_objectness_times_class() -> None:
    # cx, cy, w, h, objectness, animal, person, vehicle
    raw = np.array(
        [
            [
                [100, 100, 40, 60, 0.9, 0.8, 0.1, 0.1],  # animal 0.72
                [300, 200, 50, 50, 0.5, 0.2, 0.7, 0.1],  # person 0.35
                [400, 400, 10, 10, 0.3, 0.9, 0.0, 0.0],  # animal 0.27: below 0.3
                [101, 101, 40, 60, 0.8, 0.8, 0.1, 0.1],  # animal 0.64, overlaps the first
            ]
        ],
        dtype=np.float32,
    )

    [found] = decode("megadetector-v5", [raw], config(0.3, 0.3, 0.3))

    assert boxes_of(found) == [
        (0, 0.72, (80.0, 70.0, 120.0, 130.0)),
        (1, 0.35, (275.0, 175.0, 325.0, 225.0)),
    ]


def test_end2end_keeps_overlaps_and_caps_per_image() -> None:
    raw = np.array(
        [
            [
                [10, 10, 50, 50, 0.9, 0],
                [10, 10, 50, 50, 0.8, 0],  # NMS already ran inside the model: kept
                [60, 60, 80, 80, 0.5, 1],
                [0, 0, 5, 5, 0.1, 1],  # below the threshold
            ]
        ],
        dtype=np.float32,
    )

    [found] = decode("end2end", [raw], config(0.2, 0.2, cap=2))

    assert boxes_of(found) == [
        (0, 0.9, (10.0, 10.0, 50.0, 50.0)),
        (0, 0.8, (10.0, 10.0, 50.0, 50.0)),
    ]


def test_labels_outside_the_manifest_are_dropped() -> None:
    raw = np.array([[[0, 0, 10, 10, 0.9, 7]]], dtype=np.float32)

    assert decode("end2end", [raw], config(0.2)) == [[]]


def test_layout_that_does_not_fit_the_labels_is_refused() -> None:
    raw = np.zeros((1, 9, 100), dtype=np.float32)  # 4 + 5 classes, manifest has 3

    with pytest.raises(ValueError, match=r"expected 4 \+ 3 = 7 channels"):
        decode("yolov8", [raw], config(0.2, 0.2, 0.2))


def test_nms_on_many_random_boxes_leaves_no_same_class_overlap() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 200, size=(500, 2)).astype(np.float32)
    wh = rng.uniform(5, 60, size=(500, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + wh], axis=1)
    scores = rng.uniform(0, 1, size=500).astype(np.float32)
    labels = rng.integers(0, 3, size=500)

    keep = nms(boxes, scores, labels, 0.5)

    assert np.all(np.diff(scores[keep]) <= 0)
    for label in range(3):
        kept = boxes[keep][labels[keep] == label]
        x1 = np.maximum(kept[:, None, 0], kept[None, :, 0])
        y1 = np.maximum(kept[:, None, 1], kept[None, :, 1])
        x2 = np.minimum(kept[:, None, 2], kept[None, :, 2])
        y2 = np.minimum(kept[:, None, 3], kept[None, :, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area = (kept[:, 2] - kept[:, 0]) * (kept[:, 3] - kept[:, 1])
        iou = inter / (area[:, None] + area[None, :] - inter)
        np.fill_diagonal(iou, 0)
        assert iou.max() <= 0.5
