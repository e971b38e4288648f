"""The prior from records and onto probability vectors: what training's evaluation and
inference both do with it.

Training fits it on the training split only (fitting on the test split would credit the prior
with knowing the answers) and applies it to the test split's probabilities; inference fits it
on a project's verified observations and applies it to each crop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from wildlens.common.prior._combine import combine
from wildlens.common.prior._model import Sighting, SpatiotemporalPrior

__all__ = ["Capture", "apply_prior", "fit_prior", "sighting_at", "when"]

Matrix = npt.NDArray[np.float64]


def when(captured_at: datetime | None) -> tuple[int, int]:
    """Month (1-12) and hour (0-23) in UTC of a capture; ``(0, -1)`` when unknown. A naive
    time is taken as UTC already."""
    if captured_at is None:
        return 0, -1
    if captured_at.tzinfo is not None:
        captured_at = captured_at.astimezone(UTC)
    return captured_at.month, captured_at.hour


def sighting_at(key: str, location_id: str = "", captured_at: datetime | None = None) -> Sighting:
    """A verified sighting of ``key`` at ``location_id`` (``""``: unknown) at ``captured_at``."""
    month, hour = when(captured_at)
    return Sighting(key, location_id, month, hour)


@dataclass(frozen=True, slots=True)
class Capture:
    """Where and when one image to be classified was taken."""

    location_id: str = ""
    captured_at: datetime | None = None


def fit_prior(
    records: Iterable[tuple[str, str, datetime | None]] | Iterable[Sighting],
    *,
    alpha: float = 1.0,
    strength: float = 10.0,
) -> SpatiotemporalPrior:
    """The prior learnt from ``(taxon key, location id, capture time)`` records or sightings.

    Args:
        records: the verified observations, as tuples or :class:`Sighting`.
        alpha: pseudo-count per taxon at the global level.
        strength: pseudo-counts each level borrows from the one above.
    """
    sightings = (
        r if isinstance(r, Sighting) else sighting_at(r[0], r[1] or "", r[2]) for r in records
    )
    return SpatiotemporalPrior(sightings, alpha=alpha, strength=strength)


def apply_prior(
    probabilities: Matrix,
    keys: Sequence[str],
    prior: SpatiotemporalPrior,
    captures: Sequence[Capture],
    *,
    weight: float = 1.0,
) -> Matrix:
    """Each row of ``probabilities`` (``[N, len(keys)]``, one row per capture) combined with
    the prior at its capture's place and time, renormalised.

    Args:
        probabilities: the classifier's probabilities, columns in the order of ``keys``.
        keys: the taxon key of each column (as the prior was fitted with).
        prior: the fitted prior.
        captures: where and when each row's image was taken.
        weight: how far the prior is trusted (0 ignores it, 1 trusts it fully).
    """
    rows = np.asarray(probabilities, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != len(keys):
        raise ValueError(f"probabilities must be [N, {len(keys)}], got {list(rows.shape)}")
    if len(captures) != rows.shape[0]:
        raise ValueError(f"{rows.shape[0]} rows of probabilities but {len(captures)} captures")
    out = np.empty_like(rows)
    cache: dict[tuple[str, int, int], npt.NDArray[np.float64]] = {}
    for i, capture in enumerate(captures):
        month, hour = when(capture.captured_at)
        cell = (capture.location_id, month, hour)
        if cell not in cache:
            cache[cell] = prior.probabilities(keys, *cell)
        out[i] = combine(rows[i], cache[cell], weight)
    return out
