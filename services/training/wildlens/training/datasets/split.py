"""Train, validation and test by place: no location (or, asked for, no event) in two splits.

Images from one camera site share background, light and the animals that live there; a model
tested on a site it was trained on looks better than it will be at a new site. So whole groups
(all samples of a location) go to one split. Within that constraint the split is stratified
as far as the groups allow:

1. Classes with the fewest groups first, each class gets a group in train (its largest), and
   where it has at least three groups, one in validation and one in test as well (their
   smallest, so that train keeps most of the class).
2. The other groups, largest first (by powers of two: groups of about the same size in the
   seed's order), go one by one to the split where they bring the class
   counts closest to each split's share of each class (least squared shortfall and excess).

A seed shuffles the groups before they are ordered, so groups of about the same size go in a
different order under another seed, and in the same order under the same seed.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SPLITS", "GroupBy", "Shares", "SplitItem", "SplitName", "group_key", "split_groups"]

SplitName = Literal["train", "validation", "test"]
SPLITS: tuple[SplitName, ...] = ("train", "validation", "test")
GroupBy = Literal["location", "event"]


class Shares(BaseModel):
    """Each split's share of the samples; they add up to 1."""

    model_config = ConfigDict(extra="forbid")

    train: float = Field(default=0.7, gt=0, le=1)
    validation: float = Field(default=0.15, ge=0, lt=1)
    test: float = Field(default=0.15, ge=0, lt=1)

    @model_validator(mode="after")
    def _sum(self) -> Shares:
        if abs(self.train + self.validation + self.test - 1) > 1e-6:
            raise ValueError("train, validation and test must add up to 1")
        return self

    def of(self, split: SplitName) -> float:
        return float(getattr(self, split))


@dataclass(frozen=True, slots=True)
class SplitItem:
    """One sample as the split sees it: the group it must stay with, and its class."""

    group: str
    label: str


def group_key(location_id: str, event_id: str, media_id: str, *, by: GroupBy = "location") -> str:
    """The group a sample stays with: its location (or event), falling back to its event and
    then its medium where it has none, so unplaced samples are never spread over splits with
    the images they were taken with."""
    if by == "location" and location_id:
        return f"location:{location_id}"
    if event_id:
        return f"event:{event_id}"
    return f"media:{media_id}"


def split_groups(
    items: Sequence[SplitItem], shares: Shares | None = None, *, seed: int = 0
) -> dict[str, SplitName]:
    """Each group's split.

    Args:
        items: the samples, each with its group and class.
        shares: each split's share; the default is 70/15/15.
        seed: the same seed gives the same split of the same samples.
    """
    shares = shares or Shares()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        counts[item.group][item.label] += 1
    groups = sorted(counts)
    random.Random(seed).shuffle(groups)
    order = {g: i for i, g in enumerate(groups)}
    totals: Counter[str] = Counter(item.label for item in items)
    open_splits: list[SplitName] = [s for s in SPLITS if shares.of(s) > 0]
    assigned: dict[str, SplitName] = {}
    have: dict[SplitName, Counter[str]] = {s: Counter() for s in SPLITS}

    def assign(group: str, split: SplitName) -> None:
        assigned[group] = split
        have[split].update(counts[group])

    # 1. Every class in train; in validation and test too where it has three groups.
    by_class: dict[str, list[str]] = defaultdict(list)
    for group in groups:
        for label in counts[group]:
            by_class[label].append(group)
    for label in sorted(by_class, key=lambda c: (len(by_class[c]), c)):
        wanted: list[SplitName] = open_splits if len(by_class[label]) >= 3 else ["train"]
        for split in wanted:
            if have[split][label]:
                continue
            free = [g for g in by_class[label] if g not in assigned]
            if not free:
                break
            # Train takes the class's largest group, the others its smallest.
            ranked = sorted(free, key=lambda g: (counts[g][label], -order[g]))
            assign(ranked[-1] if split == "train" else ranked[0], split)

    # 2. The rest, about largest first, where they bring the counts closest to the shares.
    rest = sorted(
        (g for g in groups if g not in assigned),
        key=lambda g: (-sum(counts[g].values()).bit_length(), order[g]),
    )
    grand = sum(totals.values())
    for group in rest:

        def cost(split: SplitName, group: str = group) -> float:
            share = shares.of(split)
            change = 0.0
            for label, n in counts[group].items():
                target = share * totals[label]
                now = have[split][label]
                change += (now + n - target) ** 2 - (now - target) ** 2
            size, target_size = sum(counts[group].values()), share * grand
            held = sum(have[split].values())
            # The overall share counts too, so large mixed groups do not pile up in one split.
            change += (held + size - target_size) ** 2 - (held - target_size) ** 2
            return change

        assign(group, min(open_splits, key=lambda s: (cost(s), SPLITS.index(s))))
    return assigned
