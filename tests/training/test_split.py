"""Splitting by location: no location in two splits, the same split for the same seed, the
shares honoured and every class in train as far as its locations allow."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Mapping

import pytest
from pydantic import ValidationError

from wildlens.training.datasets.split import (
    SPLITS,
    Shares,
    SplitItem,
    group_key,
    split_groups,
)

CLASSES = ["fox", "badger", "roe deer", "boar", "hare", "marten"]


def _survey(seed: int, locations: int = 40) -> list[SplitItem]:
    """Locations of unequal size, each with its own mix of classes (a few rare ones)."""
    rng = random.Random(seed)
    items: list[SplitItem] = []
    for n in range(locations):
        size = rng.randint(5, 60)
        present = rng.sample(CLASSES[:4], k=rng.randint(1, 3))
        for _ in range(size):
            items.append(SplitItem(f"location:L{n}", rng.choice(present)))
    # Rare classes: hare at 3 locations, marten at 2 (a few images each).
    for n, label in [(1, "hare"), (7, "hare"), (13, "hare"), (2, "marten"), (9, "marten")]:
        items.extend(SplitItem(f"location:L{n}", label) for _ in range(3))
    return items


def _per_split(items: list[SplitItem], assigned: Mapping[str, str]) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        found[assigned[item.group]][item.label] += 1
    return found


@pytest.mark.parametrize("seed", range(6))
def test_every_group_is_in_exactly_one_split(seed: int) -> None:
    items = _survey(seed)
    assigned = split_groups(items, seed=seed)
    assert set(assigned) == {item.group for item in items}
    assert set(assigned.values()) <= set(SPLITS)
    splits_of: dict[str, set[str]] = defaultdict(set)
    for item in items:
        splits_of[item.group].add(assigned[item.group])
    assert all(len(s) == 1 for s in splits_of.values())


def test_the_same_seed_gives_the_same_split_and_another_seed_another() -> None:
    items = _survey(3)
    first = split_groups(items, seed=11)
    assert split_groups(items, seed=11) == first
    assert split_groups(list(reversed(items)), seed=11) == first
    others = [split_groups(items, seed=s) for s in range(12, 17)]
    assert any(other != first for other in others)


@pytest.mark.parametrize("seed", range(6))
def test_the_shares_are_roughly_honoured(seed: int) -> None:
    items = _survey(seed, locations=60)
    assigned = split_groups(items, Shares(train=0.6, validation=0.2, test=0.2), seed=seed)
    sizes = Counter(assigned[item.group] for item in items)
    total = len(items)
    assert abs(sizes["train"] / total - 0.6) < 0.08, sizes
    assert abs(sizes["validation"] / total - 0.2) < 0.08, sizes
    assert abs(sizes["test"] / total - 0.2) < 0.08, sizes


@pytest.mark.parametrize("seed", range(6))
def test_every_class_is_in_train_and_in_all_splits_when_it_has_three_locations(seed: int) -> None:
    items = _survey(seed)
    per_split = _per_split(items, split_groups(items, seed=seed))
    locations = defaultdict(set)
    for item in items:
        locations[item.label].add(item.group)
    for label, where in locations.items():
        assert per_split["train"][label] > 0, (label, seed)
        if len(where) >= 3:
            assert per_split["validation"][label] > 0, (label, seed)
            assert per_split["test"][label] > 0, (label, seed)


def test_common_classes_are_stratified() -> None:
    items = _survey(5, locations=80)
    per_split = _per_split(items, split_groups(items, seed=5))
    for label in CLASSES[:4]:
        total = sum(per_split[s][label] for s in SPLITS)
        assert 0.55 < per_split["train"][label] / total < 0.85, (label, per_split)


def test_a_split_with_no_share_gets_nothing() -> None:
    items = _survey(1)
    assigned = split_groups(items, Shares(train=0.8, validation=0.2, test=0.0), seed=1)
    assert set(assigned.values()) == {"train", "validation"}


def test_one_location_goes_to_train() -> None:
    items = [SplitItem("location:only", "fox")] * 10
    assert split_groups(items, seed=0) == {"location:only": "train"}


def test_groups_fall_back_from_location_to_event_to_medium() -> None:
    assert group_key("L1", "E1", "M1") == "location:L1"
    assert group_key("", "E1", "M1") == "event:E1"
    assert group_key("", "", "M1") == "media:M1"
    assert group_key("L1", "E1", "M1", by="event") == "event:E1"
    assert group_key("L1", "", "M1", by="event") == "media:M1"


def test_shares_must_add_up() -> None:
    with pytest.raises(ValidationError, match="add up to 1"):
        Shares(train=0.5, validation=0.2, test=0.2)
    with pytest.raises(ValidationError):
        Shares(train=0.0, validation=0.5, test=0.5)
