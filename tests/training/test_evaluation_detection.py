"""A detector's figures as its evaluation report gives them: COCO mAP from pycocotools, AP per
class, precision and recall at the thresholds, per location."""

from __future__ import annotations

import numpy as np
import pytest

from wildlens.training.evaluation.detection import Frame, FrameDetections, evaluate_detector

CLASSES = ["disc", "square"]


def _frame(box: list[float], label: int, location: str) -> Frame:
    return Frame(np.asarray([box], float), np.asarray([label]), location)


def _found(boxes: list[list[float]], scores: list[float], labels: list[int]) -> FrameDetections:
    return FrameDetections(
        np.asarray(boxes, float).reshape(-1, 4), np.asarray(scores, float), np.asarray(labels)
    )


def test_boxes_found_exactly_score_one_and_a_missed_location_scores_zero() -> None:
    frames = [
        _frame([10, 10, 50, 50], 0, "north"),
        _frame([20, 20, 80, 60], 1, "north"),
        _frame([30, 30, 60, 70], 0, "south"),
    ]
    found = [
        _found([[10, 10, 50, 50]], [0.9], [0]),
        # Found, but below its class's threshold: counts for mAP, not for precision/recall.
        _found([[20, 20, 80, 60]], [0.4], [1]),
        # The right class far from the box: a false positive.
        _found([[0, 0, 10, 10]], [0.8], [0]),
    ]
    report = evaluate_detector(frames, found, CLASSES, {"disc": 0.5, "square": 0.5})
    north = report["per_location"]["north"]
    assert north["map_50"] == pytest.approx(1.0)
    assert north["map_50_95"] == pytest.approx(1.0)
    assert north["recall"] == pytest.approx(0.5)
    assert north["precision"] == pytest.approx(1.0)
    south = report["per_location"]["south"]
    assert south["map_50"] == 0.0
    assert south["precision"] == 0.0
    assert south["recall"] == 0.0
    assert report["per_class_ap_50"]["square"] == pytest.approx(1.0)
    assert report["per_class_ap_50"]["disc"] == pytest.approx(0.5, abs=0.01)
    assert report["per_class"]["disc"] == {
        "precision": 0.5,
        "recall": 0.5,
        "threshold": 0.5,
        "boxes": 2,
    }
    assert (report["frames"], report["boxes"]) == (3, 3)


def test_a_box_of_the_wrong_class_is_no_detection_of_the_right_one() -> None:
    frames = [_frame([10, 10, 50, 50], 0, "north")]
    report = evaluate_detector(frames, [_found([[10, 10, 50, 50]], [0.9], [1])], CLASSES, {})
    assert report["map_50"] == 0.0
    assert report["per_class"]["disc"]["recall"] == 0.0
    assert report["per_class"]["square"]["precision"] == 0.0
