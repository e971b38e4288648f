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

__all__ = ["CropOutcome", "LabelScore", "decide"]

Vector = npt.NDArray[np.float64]


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
    image = renormalise(np.asarray(probabilities, dtype=np.float64), allowed)
    if float(image.sum()) <= 0:
        return CropOutcome((), "classifier")
    final = image
    changed = False
    if prior is not None and prior_weight > 0:
        final = combine(image, prior, prior_weight)
        changed = int(np.argmax(final)) != int(np.argmax(image))
    order = [int(i) for i in np.argsort(-final, kind="stable")[:top_k] if final[i] > 0]
    scores = [
        LabelScore(
            labels[i].label,
            labels[i].scientific_name,
            float(final[i]),
            labels[i].taxon_id,
            labels[i].rank,
            float(image[i]),
        )
        for i in order
    ]
    source = "prior" if changed else "classifier"
    if float(final[order[0]]) < threshold:
        up = rollup(final, labels, taxonomy, threshold)
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
                    float(image[under].sum()),
                ),
            )
            source = "rollup"
    return CropOutcome(tuple(scores), source, changed)
