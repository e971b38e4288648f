"""Box consensus by IoU clustering: the median box of each cluster and who drew it."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.citsci.test_zooniverse_export import export
from wildlens.citsci.aggregation import (
    BoxCluster,
    box_consensus,
    iou_matrix,
    read_classifications,
)


def drawing(*boxes: tuple[int, float, float, float, float]) -> str:
    value = [
        {"tool": t, "x": x, "y": y, "width": w, "height": h, "frame": 0} for t, x, y, w, h in boxes
    ]
    return json.dumps([{"task": "T1", "value": value}])


def boxes_of(*rows: tuple[int, int, str]) -> list[BoxCluster]:
    text = export(
        *(
            {
                "subject_ids": str(s),
                "user_id": str(v),
                "annotations": a,
                "classification_id": 10 * s + v,
            }
            for s, v, a in rows
        )
    )
    return box_consensus(read_classifications(io.StringIO(text)), min_volunteers=2)


def test_iou_of_known_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 1, 1]], dtype=float)
    iou = iou_matrix(boxes)
    assert iou[0, 1] == pytest.approx(50 / 150)
    assert iou[0, 2] == 0.0
    assert iou[2, 2] == 1.0


def test_three_volunteers_two_animals_and_a_stray_box() -> None:
    clusters = boxes_of(
        (1, 1, drawing((0, 100, 100, 50, 40), (0, 300, 50, 20, 20))),
        (1, 2, drawing((0, 104, 98, 50, 44), (0, 302, 52, 20, 18))),
        (1, 3, drawing((0, 98, 102, 54, 40), (0, 600, 400, 30, 30))),
    )
    assert len(clusters) == 2
    first, second = sorted(clusters, key=lambda c: c.x)
    # Medians of the edges: x1 100, y1 100, x2 median(150, 154, 152) = 152,
    # y2 median(140, 142, 142) = 142
    assert (first.x, first.y, first.width, first.height) == (100, 100, 52, 42)
    assert first.volunteers == 3
    # Two volunteers drew the second animal: x1 median(300, 302) = 301, x2 median(320, 322) = 321
    assert (second.x, second.y, second.width, second.height) == (301, 51, 20, 19)
    assert second.volunteers == 2
    assert 0.8 < first.mean_iou <= 1.0


def test_two_boxes_of_one_volunteer_are_two_animals_and_tools_stay_apart() -> None:
    clusters = boxes_of(
        (2, 1, drawing((0, 0, 0, 10, 10), (0, 1, 1, 10, 10), (1, 0, 0, 10, 10))),
        (2, 2, drawing((0, 0, 0, 10, 10), (0, 1, 1, 10, 10), (1, 0, 0, 10, 10))),
    )
    by_tool = sorted((c.tool, c.volunteers, c.boxes) for c in clusters)
    assert by_tool == [(0, 2, 2), (0, 2, 2), (1, 2, 2)]
