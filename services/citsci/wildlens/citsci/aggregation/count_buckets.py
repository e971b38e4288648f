"""Animal counts as survey answers: ordered buckets, not numbers.

Zooniverse surveys ask "how many?" with buttons; Snapshot Serengeti's were 1 to 10, 11-50 and
51+. A median count is the median bucket in that order. Exports spell the buckets either as
shown or as Zooniverse's answer keys ("1150" for 11-50, "51" for 51+); both are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from wildlens.citsci.aggregation.errors import ExportError

__all__ = ["SERENGETI_BUCKETS", "CountBuckets"]


@dataclass(frozen=True)
class CountBuckets:
    """The buckets in increasing order, and other spellings of them.

    ``lower_bounds`` gives each bucket the smallest count it stands for (11 for "11-50"), the
    figure a consensus count reports.
    """

    labels: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ValueError("count buckets must be distinct and at least one")
        unknown = set(self.aliases.values()) - set(self.labels)
        if unknown:
            raise ValueError(f"aliases name buckets that do not exist: {sorted(unknown)}")

    def ordinal(self, label: str) -> int:
        """The bucket's place in the order (0 for the smallest)."""
        canonical = self.aliases.get(label, label)
        try:
            return self.labels.index(canonical)
        except ValueError:
            raise ExportError(
                f"count answer {label[:40]!r} is not one of the buckets {', '.join(self.labels)}"
            ) from None

    def ordinals(self, labels: Sequence[str]) -> npt.NDArray[np.int64]:
        return np.array([self.ordinal(label) for label in labels], dtype=np.int64)

    @property
    def lower_bounds(self) -> tuple[int, ...]:
        bounds = []
        for label in self.labels:
            digits = ""
            for character in label:
                if not character.isdigit():
                    break
                digits += character
            bounds.append(int(digits) if digits else 0)
        return tuple(bounds)


SERENGETI_BUCKETS = CountBuckets(
    labels=(*(str(n) for n in range(1, 11)), "11-50", "51+"),
    aliases={"1150": "11-50", "51": "51+", "11 - 50": "11-50", "51 +": "51+"},
)
