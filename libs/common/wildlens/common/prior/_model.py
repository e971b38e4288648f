"""p(taxon | location, month, hour-of-day) from verified sightings, smoothed by backing off.

Sightings at one location in one month at one hour are few, so each level is a Dirichlet
(additive) estimate whose pseudo-counts are spread in proportion to the level above it:

    global       p(k)         = (n(k) + alpha) / (N + alpha * K)
    location     p(k | l)     = (n(k, l) + beta * p(k)) / (N(l) + beta)
    month        p(k | l, m)  = (n(k, l, m) + beta * p(k | l)) / (N(l, m) + beta)
    hour         p(k | l, m, h) = (n(k, l, m, h) + beta * p(k | l, m)) / (N(l, m, h) + beta)

A level with no sightings equals the level above it, so an unknown location falls back to the
global frequencies and a location with no data for the month to the location's, and with no
sightings at all the prior is uniform. ``K`` and every ``N`` count only the taxa asked about
(the classifier's labels). Months and hours are those of the capture time in UTC; a location's
cameras keep one clock offset, so within a location UTC hours order the day as well as local
ones do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Sighting", "SpatiotemporalPrior"]

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Sighting:
    """One verified observation: the taxon's key, where (``""``: unknown) and when (month
    1-12 and hour 0-23 in UTC; 0 and -1 when the capture time is unknown)."""

    key: str
    location_id: str = ""
    month: int = 0
    hour: int = -1


class SpatiotemporalPrior:
    """Args:
    sightings: the verified observations to learn from.
    alpha: pseudo-count per taxon at the global level.
    strength: pseudo-counts (beta) that each level borrows from the one above.
    """

    def __init__(
        self, sightings: Iterable[Sighting], *, alpha: float = 1.0, strength: float = 10.0
    ) -> None:
        if alpha <= 0 or strength <= 0:
            raise ValueError("alpha and strength must be positive")
        self.alpha, self.strength = alpha, strength
        self._levels: list[dict[Hashable, Counter[str]]] = [{}, {}, {}, {}]
        self.count = 0
        for s in sightings:
            self.count += 1
            self._add(0, (), s.key)
            if not s.location_id:
                continue
            self._add(1, (s.location_id,), s.key)
            if not 1 <= s.month <= 12:
                continue
            self._add(2, (s.location_id, s.month), s.key)
            if 0 <= s.hour <= 23:
                self._add(3, (s.location_id, s.month, s.hour), s.key)

    def _add(self, level: int, cell: Hashable, key: str) -> None:
        self._levels[level].setdefault(cell, Counter())[key] += 1

    def _counts(self, level: int, cell: Hashable, keys: Sequence[str]) -> Vector:
        counts: Mapping[str, int] = self._levels[level].get(cell, Counter())
        return np.array([counts.get(k, 0) for k in keys], dtype=np.float64)

    def probabilities(
        self,
        keys: Sequence[str],
        location_id: str = "",
        month: int = 0,
        hour: int = -1,
    ) -> Vector:
        """The prior over ``keys`` for a capture at ``location_id`` in ``month`` at ``hour``."""
        if not keys:
            return np.zeros(0, dtype=np.float64)
        counts = self._counts(0, (), keys)
        prior: Vector = (counts + self.alpha) / (counts.sum() + self.alpha * len(keys))
        cells: list[Hashable] = []
        if location_id:
            cells.append((location_id,))
            if 1 <= month <= 12:
                cells.append((location_id, month))
                if 0 <= hour <= 23:
                    cells.append((location_id, month, hour))
        for level, cell in enumerate(cells, start=1):
            counts = self._counts(level, cell, keys)
            prior = (counts + self.strength * prior) / (counts.sum() + self.strength)
        return prior
