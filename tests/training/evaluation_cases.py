"""A fixed small test split and predictions whose figures are worked out by hand in the tests.

Three classes: two fox species (same genus and family) and a class named at family level only
(Mustelidae: no species, no genus). Eight samples at three locations in five events (the last
sample has no event). Each row: true class, the trained model's probabilities, location, event.

    sample  true  probabilities        top-1  confidence  location  event
    s0      0     0.70 0.20 0.10       0 ok   0.70        A         e1
    s1      0     0.40 0.50 0.10       1      0.50        A         e1
    s2      0     0.60 0.10 0.30       0 ok   0.60        B         e2
    s3      1     0.30 0.60 0.10       1 ok   0.60        B         e3
    s4      1     0.20 0.70 0.10       1 ok   0.70        B         e3
    s5      2     0.10 0.10 0.80       2 ok   0.80        C         e4
    s6      2     0.50 0.20 0.30       0      0.50        C         e4
    s7      2     0.35 0.45 0.20       1      0.45        C         (none)
"""

from __future__ import annotations

import numpy as np

from wildlens.training.evaluation import Lineage, Samples

CLASS_NAMES = ["Vulpes vulpes", "Vulpes lagopus", "Mustelidae"]
LINEAGES = [
    Lineage(species="Vulpes vulpes", genus="Vulpes", family="Canidae"),
    Lineage(species="Vulpes lagopus", genus="Vulpes", family="Canidae"),
    Lineage(family="Mustelidae"),
]
LABELS = [0, 0, 0, 1, 1, 2, 2, 2]
LOCATIONS = ["A", "A", "B", "B", "B", "C", "C", "C"]
EVENTS: list[str | None] = ["e1", "e1", "e2", "e3", "e3", "e4", "e4", None]
PROBABILITIES = np.array(
    [
        [0.70, 0.20, 0.10],
        [0.40, 0.50, 0.10],
        [0.60, 0.10, 0.30],
        [0.30, 0.60, 0.10],
        [0.20, 0.70, 0.10],
        [0.10, 0.10, 0.80],
        [0.50, 0.20, 0.30],
        [0.35, 0.45, 0.20],
    ]
)
# The prior puts s1 and s7 right: top-1 7/8.
WITH_PRIOR = PROBABILITIES.copy()
WITH_PRIOR[1] = [0.60, 0.30, 0.10]
WITH_PRIOR[7] = [0.20, 0.30, 0.50]


def one_hot_ish(top1: list[int], classes: int = 3) -> np.ndarray:
    """0.8 on each sample's top-1 class, the rest shared out."""
    p = np.full((len(top1), classes), 0.2 / (classes - 1))
    p[np.arange(len(top1)), top1] = 0.8
    return p


# The serving model: right on all but s3 (true 1, says 0).
CHAMPION = one_hot_ish([0, 0, 0, 0, 1, 2, 2, 2])


def samples() -> Samples:
    return Samples(LABELS, CLASS_NAMES, LOCATIONS, EVENTS, LINEAGES)


# Validation logits for the same classes (a fitted temperature in the report).
LOGITS_VALIDATION = 3 * np.log(PROBABILITIES)
