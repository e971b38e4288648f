"""The taxonomy's say in an answer: what a project or region rules out, and roll-up.

Both work on one crop's probabilities over the classifier's labels, so they can be checked by
hand: restricting zeroes the labels ruled out and renormalises what remains; rolling up
(SpeciesNet's rule) answers, when no label is sure enough, the nearest ancestor — genus, then
family, order, class — whose labels together are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wildlens.inference.taxonomy.geofence import Geofence
from wildlens.inference.taxonomy.tree import LabelTaxon, ProjectTaxonomy

__all__ = ["ROLLUP_RANKS", "Rollup", "allowed_labels", "renormalise", "rollup"]

ROLLUP_RANKS: tuple[str, ...] = ("genus", "family", "order", "class")

Vector = npt.NDArray[np.float64]


def renormalise(probabilities: Vector, keep: npt.NDArray[np.bool_]) -> Vector:
    """``probabilities`` with the labels not in ``keep`` set to 0, summing to 1 again; all
    zeros when nothing that remains has any probability. A matrix is taken row by row (one
    crop a row), all rows at once."""
    kept: Vector = np.where(keep, probabilities, 0.0)
    totals = kept.sum(axis=-1, keepdims=True)
    renormalised: Vector = kept / np.where(totals > 0, totals, 1.0)
    return renormalised


def allowed_labels(
    labels: Sequence[LabelTaxon],
    taxonomy: ProjectTaxonomy,
    geofence: Geofence,
    region: str,
) -> npt.NDArray[np.bool_]:
    """Per label: does the project's taxa list admit it, and the geofence in ``region``?"""
    names = {node.id: node.scientific_name for node in taxonomy.nodes.values()}
    return np.array(
        [
            taxonomy.is_allowed(label) and geofence.allows_label(label, region, names)
            for label in labels
        ],
        dtype=bool,
    )


@dataclass(frozen=True, slots=True)
class Rollup:
    taxon_id: str
    scientific_name: str
    rank: str
    confidence: float


def rollup(
    probabilities: Vector,
    labels: Sequence[LabelTaxon],
    taxonomy: ProjectTaxonomy,
    threshold: float,
    ranks: Sequence[str] = ROLLUP_RANKS,
) -> Rollup | None:
    """The most specific ancestor whose labels' summed probability reaches ``threshold``.

    Rank by rank from the most specific, each label counts towards its ancestor of that rank
    (a genus label towards itself); the best-scoring ancestor of the first rank that reaches
    the threshold is the answer. None when no rank does, or the labels have no lineage.
    """
    for rank in ranks:
        sums: dict[str, float] = {}
        for probability, label in zip(probabilities, labels, strict=True):
            ancestor = next(
                (t for t in label.lineage if taxonomy.nodes[t].rank == rank),
                None,
            )
            if ancestor is not None:
                sums[ancestor] = sums.get(ancestor, 0.0) + float(probability)
        if not sums:
            continue
        best = max(sums, key=lambda t: (sums[t], t))
        # A hair of slack: sums of floats land just under a threshold they reach exactly.
        if sums[best] >= threshold - 1e-9:
            node = taxonomy.nodes[best]
            return Rollup(node.id, node.scientific_name, node.rank, min(sums[best], 1.0))
    return None
