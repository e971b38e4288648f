"""How unsure a classifier was about one detection, from the top-k it gave.

A classifier sends its k most probable labels; whatever probability is left (``1 - sum``) is
spread over labels it did not send. Both measures count that remainder as one more outcome,
the most it could be:

* **entropy**, normalised: ``H(p_1, ..., p_k, r) / ln(n)`` with ``n`` the outcomes that have
  any probability (the k labels and a remainder above zero); 0 when one label holds it all, 1
  when every outcome is equally likely;
* **margin**: the first label's probability less the second's; where the classifier sent one
  label only, less the remainder (the most a second label could have), never below 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from wildlens.common.events.v1.media_pb2 import Classification

__all__ = ["TOP_K", "entropy", "margin", "top_labels"]

# Labels kept per detection: more than any review or selection reads, few enough that a batch
# of analyses stays small.
TOP_K = 10
# Probabilities below this are rounding of a remainder that is really nothing.
_NOTHING = 1e-6


def top_labels(classifications: Iterable[Classification]) -> list[dict[str, Any]]:
    """The detection's labels best first, at most ``TOP_K``, as the observation keeps them."""
    ranked = sorted(classifications, key=lambda c: -float(c.confidence))[:TOP_K]
    return [
        {
            "label": c.label,
            "scientific_name": c.scientific_name,
            "probability": round(float(c.confidence), 6),
        }
        for c in ranked
    ]


def _outcomes(probabilities: Sequence[float]) -> list[float]:
    kept = [min(max(p, 0.0), 1.0) for p in probabilities]
    remainder = 1.0 - sum(kept)
    return [p for p in [*kept, remainder] if p > _NOTHING]


def entropy(probabilities: Sequence[float]) -> float | None:
    """Normalised entropy of the top-k and its remainder (None without any label)."""
    if not probabilities:
        return None
    outcomes = _outcomes(probabilities)
    if len(outcomes) < 2:
        return 0.0
    total = sum(outcomes)
    h = -sum((p / total) * math.log(p / total) for p in outcomes)
    return round(min(h / math.log(len(outcomes)), 1.0), 6)


def margin(probabilities: Sequence[float]) -> float | None:
    """The first label's lead over the second (None without any label); ``probabilities``
    best first."""
    if not probabilities:
        return None
    first = probabilities[0]
    second = probabilities[1] if len(probabilities) > 1 else max(1.0 - first, 0.0)
    return round(max(first - min(second, first), 0.0), 6)
