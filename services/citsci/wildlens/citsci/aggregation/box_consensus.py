"""Box consensus for workflows that draw rectangles: clusters by overlap, a median box each.

KSO aggregates the frames its volunteers box on Zooniverse this way: boxes of one subject
(and frame, and tool, the tool being the species or kind of thing boxed) that overlap enough
are taken to be the same animal; the consensus box is the median of each edge over the
cluster, and the cluster counts as an animal when enough volunteers drew it.

Clustering is average-linkage agglomeration on intersection over union: the two clusters
with the highest mean pairwise IoU merge while it is at least ``iou_threshold``, and two boxes
of the same volunteer never merge (one volunteer drawing two animals means two animals).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wildlens.citsci.aggregation.annotations import DrawingAnswer
from wildlens.citsci.aggregation.zooniverse_export import Classification

__all__ = ["BoxCluster", "box_consensus", "cluster_boxes", "iou_matrix"]

Float = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BoxCluster:
    subject_id: int
    frame: int
    tool: int
    x: float
    y: float
    width: float
    height: float
    volunteers: int
    """How many volunteers drew a box in this cluster."""
    boxes: int
    mean_iou: float
    """The mean IoU of the members with the median box: how well they agree."""


def iou_matrix(boxes: Float) -> Float:
    """Pairwise intersection over union of ``[x, y, width, height]`` rows."""
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    width = np.clip(np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1), 0, None)
    height = np.clip(np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1), 0, None)
    intersection = width * height
    area = boxes[:, 2] * boxes[:, 3]
    union = area[:, None] + area - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, 0.0)


def cluster_boxes(
    boxes: Float, volunteers: npt.NDArray[np.int64], iou_threshold: float
) -> list[list[int]]:
    """Groups of box indexes (average linkage on IoU, no two boxes of one volunteer)."""
    n = boxes.shape[0]
    if n == 0:
        return []
    iou = iou_matrix(boxes)
    clusters: list[list[int]] = [[i] for i in range(n)]
    owners: list[set[int]] = [{int(volunteers[i])} for i in range(n)]
    # Sums of pairwise IoU between clusters; the linkage is the sum over the pairs' count.
    linkage = iou.copy()
    np.fill_diagonal(linkage, -np.inf)
    sizes = np.ones(n)
    alive = np.ones(n, dtype=bool)
    same = volunteers[:, None] == volunteers[None, :]
    linkage[same] = -np.inf
    while True:
        mean = linkage / np.outer(sizes, sizes)
        mean[~alive] = -np.inf
        mean[:, ~alive] = -np.inf
        a, b = np.unravel_index(int(np.argmax(mean)), mean.shape)
        if mean[a, b] < iou_threshold:
            break
        clusters[a].extend(clusters[b])
        owners[a] |= owners[b]
        alive[b] = False
        sizes[a] += sizes[b]
        merged = linkage[a] + linkage[b]
        linkage[a], linkage[:, a] = merged, merged
        for c in np.flatnonzero(alive):
            if c != a and owners[a] & owners[int(c)]:
                linkage[a, c] = linkage[c, a] = -np.inf
        linkage[a, a] = -np.inf
    return [clusters[i] for i in np.flatnonzero(alive)]


def box_consensus(
    classifications: Iterable[Classification],
    *,
    task: str | None = None,
    iou_threshold: float = 0.5,
    min_volunteers: int = 1,
) -> list[BoxCluster]:
    """The consensus boxes of every subject, frame and tool in the classifications.

    Args:
        task: the drawing task's key; ``None`` takes each classification's first drawing.
        iou_threshold: the least mean IoU at which two clusters are the same animal.
        min_volunteers: clusters drawn by fewer volunteers are dropped.
    """
    groups: dict[tuple[int, int, int], tuple[list[list[float]], list[str]]] = defaultdict(
        lambda: ([], [])
    )
    for classification in classifications:
        drawing = next(
            (
                a
                for a in classification.annotations
                if isinstance(a, DrawingAnswer) and (task is None or a.task == task)
            ),
            None,
        )
        if drawing is None:
            continue
        for box in drawing.rectangles:
            rows, who = groups[(classification.subject_id, box.frame, box.tool)]
            rows.append([box.x, box.y, box.width, box.height])
            who.append(classification.volunteer)
    result = []
    for (subject_id, frame, tool), (rows, who) in sorted(groups.items()):
        boxes = np.array(rows, dtype=np.float64)
        _, volunteer = np.unique(np.array(who), return_inverse=True)
        for members in cluster_boxes(boxes, volunteer.astype(np.int64), iou_threshold):
            drawn_by = len({int(volunteer[m]) for m in members})
            if drawn_by < min_volunteers:
                continue
            chosen = boxes[members]
            corners = np.column_stack(
                (
                    chosen[:, 0],
                    chosen[:, 1],
                    chosen[:, 0] + chosen[:, 2],
                    chosen[:, 1] + chosen[:, 3],
                )
            )
            x1, y1, x2, y2 = np.median(corners, axis=0)
            median_box = np.array([[x1, y1, x2 - x1, y2 - y1]])
            agreement = iou_matrix(np.vstack((median_box, chosen)))[0, 1:]
            result.append(
                BoxCluster(
                    subject_id,
                    frame,
                    tool,
                    float(x1),
                    float(y1),
                    float(x2 - x1),
                    float(y2 - y1),
                    drawn_by,
                    len(members),
                    float(agreement.mean()),
                )
            )
    return result
