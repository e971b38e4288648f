"""Objects' features as a table: which names, in which order, and what stands in for a
missing one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FeatureTable", "Features"]

# One object's features by name; None or empty: it has none.
Features = Mapping[str, float] | None


@dataclass(frozen=True)
class FeatureTable:
    """The features a model reads, in its column order, and each one's stand-in (the median
    of the objects it was fitted on) for an object that lacks it."""

    names: list[str]
    fill: list[float]

    @classmethod
    def of(cls, rows: Sequence[Features]) -> FeatureTable:
        """The names any of ``rows`` carries (sorted) and their medians."""
        names = sorted({name for row in rows if row for name in row})
        fill = []
        for name in names:
            values = [float(row[name]) for row in rows if row and name in row]
            fill.append(float(np.median(values)))
        return cls(names, fill)

    def matrix(self, rows: Sequence[Features]) -> npt.NDArray[np.float32]:
        """One row per object, one column per name (``fill`` where the object lacks it), as
        inference builds it."""
        table = np.empty((len(rows), len(self.names)), dtype=np.float32)
        for n, row in enumerate(rows):
            found = row or {}
            table[n] = [float(found.get(k, f)) for k, f in zip(self.names, self.fill, strict=True)]
        return table
