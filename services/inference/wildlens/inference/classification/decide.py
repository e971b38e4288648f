"""One crop's answer: the classifier's probabilities, judged by the project's taxonomy and the
spatiotemporal prior, in this order:

1. labels the project's taxa list or the region's geofence rule out are dropped, and the rest
   renormalised (what the pixels say, among what is possible here);
2. the prior, when the project has one, multiplies in (weighted, renormalised);
3. when the best label is still below the threshold, the answer rolls up to the nearest
   ancestor whose labels together reach it (SpeciesNet's rule);
4. the best ``top_k`` labels follow, each with its final and its image-only confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wildlens.common.prior import combine
from wildlens.inference.taxonomy.decisions import renormalise, rollup
from wildlens.inference.taxonomy.tree import LabelTaxon, ProjectTaxonomy

__all__ = ["CropOutcome", "LabelScore", "decide", "decide_many"]

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LabelScore:
    label: str
    scientific_name: str
    confidence: float
    taxon_id: str = ""
    rank: str = ""
    # From the pixels alone (after the taxonomy's restrictions), before any prior.
    image_confidence: float = 0.0


@dataclass(frozen=True, slots=True)
class CropOutcome:
    """Best first; ``source`` says how the first was decided: classifier, rollup or prior."""

    classifications: tuple[LabelScore, ...]
    source: str
    prior_changed: bool = False


def decide(
    probabilities: Vector,
    labels: Sequence[LabelTaxon],
    taxonomy: ProjectTaxonomy,
    allowed: npt.NDArray[np.bool_],
    *,
    prior: Vector | None = None,
    prior_weight: float = 0.0,
    threshold: float,
    top_k: int,
) -> CropOutcome:
    """The answer for one crop (see the module's docstring).

    Args:
        probabilities: the classifier's, one per label.
        labels: each label's taxon in the project.
        taxonomy: the project's taxonomy (for the roll-up's lineages).
        allowed: per label, whether the project and region admit it.
        prior: the prior over the labels for this place and time, or None.
        prior_weight: the prior's exponent; 0 leaves it out.
        threshold: the roll-up threshold.
        top_k: how many labels to report.
    """
    rows = np.asarray(probabilities, dtype=np.float64)[None]
    return decide_many(
        rows,
        labels,
        taxonomy,
        allowed,
        priors=[prior],
        prior_weight=prior_weight,
        threshold=threshold,
        top_k=top_k,
    )[0]


def decide_many(
    probabilities: Matrix,
    labels: Sequence[LabelTaxon],
    taxonomy: ProjectTaxonomy,
    allowed: npt.NDArray[np.bool_],
    *,
    priors: Sequence[Vector | None] | None = None,
    prior_weight: float = 0.0,
    threshold: float,
    top_k: int,
) -> list[CropOutcome]:
    """:func:`decide` for each row of ``probabilities`` (crops of one project and region),
    the restriction and the ranking done for all rows at once: per crop, they cost more in
    numpy's calls than in arithmetic.

    Args:
        probabilities: ``[crops, labels]``, the classifier's.
        priors: each crop's prior (None: none), or None for no prior at all.
        (the others as for :func:`decide`)
    """
    # Rows with nothing left stay all zeros (and get no answer).
    image = renormalise(np.asarray(probabilities, dtype=np.float64), allowed)
    left: list[bool] = np.any(image, axis=1).tolist()
    final = image.copy()
    changed = [False] * len(image)
    if priors is not None and prior_weight > 0:
        for row, prior in enumerate(priors):
            if prior is not None:
                final[row] = combine(image[row], prior, prior_weight)
                changed[row] = int(np.argmax(final[row])) != int(np.argmax(image[row]))
    orders = np.argsort(-final, axis=1, kind="stable")[:, :top_k].tolist()
    finals, images = final.tolist(), image.tolist()
    outcomes: list[CropOutcome] = []
    for row, order in enumerate(orders):
        if not left[row]:
            outcomes.append(CropOutcome((), "classifier"))
            continue
        scores = _scores(order, finals[row], images[row], labels)
        source = "prior" if changed[row] else "classifier"
        if scores[0].confidence < threshold:
            up = rollup(final[row], labels, taxonomy, threshold)
            if up is not None:
                under = np.array([up.taxon_id in label.lineage for label in labels], dtype=bool)
                scores.insert(
                    0,
                    LabelScore(
                        up.scientific_name,
                        up.scientific_name,
                        up.confidence,
                        up.taxon_id,
                        up.rank,
                        float(image[row][under].sum()),
                    ),
                )
                source = "rollup"
        outcomes.append(CropOutcome(tuple(scores), source, changed[row]))
    return outcomes


def _scores(
    order: list[int], final: list[float], image: list[float], labels: Sequence[LabelTaxon]
) -> list[LabelScore]:
    """The labels in ``order`` that have any probability left, best first."""
    scores = []
    for i in order:
        if final[i] > 0:
            label = labels[i]
            scores.append(
                LabelScore(
                    label.label,
                    label.scientific_name,
                    final[i],
                    label.taxon_id,
                    label.rank,
                    image[i],
                )
            )
    return scores
