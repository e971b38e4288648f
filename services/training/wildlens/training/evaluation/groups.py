"""Accuracy over groups of test samples: per location, per event (sequence) and per taxonomic
level. Locations are where a model meets backgrounds it never saw (the split keeps each
location in one split); events are what the catalogue labels as one; taxonomic levels show
how far a wrong species is from the right one."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from wildlens.training.evaluation.inputs import Classes, Labels, Lineage, Probabilities
from wildlens.training.evaluation.schemas import (
    EventAccuracy,
    GroupAccuracy,
    LevelAccuracy,
    TaxonomicLevel,
)

__all__ = ["EVENT_RULE", "LEVELS", "event_accuracy", "level_accuracy", "location_accuracy"]

LEVELS: tuple[TaxonomicLevel, ...] = ("species", "genus", "family")

EVENT_RULE = (
    "An event's prediction is the most probable class of the mean of its images' probability "
    "vectors; its true class is the most frequent true class among its images (ties: the "
    "first class in class order). The event is correct when the two agree. A sample without "
    "an event is an event of its own."
)


def location_accuracy(
    locations: Sequence[str | None], labels: Labels, predicted: Classes
) -> list[GroupAccuracy]:
    """Top-1 accuracy per location, sorted by location id (samples without one last)."""
    members: dict[str | None, list[int]] = defaultdict(list)
    for i, location in enumerate(locations):
        members[location].append(i)
    result = []
    for key in sorted(members, key=lambda k: (k is None, k or "")):
        index = np.asarray(members[key])
        correct = int((labels[index] == predicted[index]).sum())
        result.append(
            GroupAccuracy(
                key=key, samples=len(index), correct=correct, accuracy=correct / len(index)
            )
        )
    return result


def event_accuracy(
    events: Sequence[str | None], labels: Labels, probabilities: Probabilities
) -> EventAccuracy:
    """Accuracy over events, by ``EVENT_RULE``."""
    members: dict[object, list[int]] = defaultdict(list)
    for i, event in enumerate(events):
        members[event if event is not None else ("single image", i)].append(i)
    correct = mixed = 0
    for index in members.values():
        truth = Counter(labels[index].tolist())
        most = max(truth.values())
        true_class = min(c for c, n in truth.items() if n == most)
        mixed += len(truth) > 1
        correct += int(np.argmax(probabilities[index].mean(axis=0))) == true_class
    return EventAccuracy(
        events=len(members),
        correct=correct,
        accuracy=correct / len(members),
        mixed_events=mixed,
        rule=EVENT_RULE,
    )


def level_accuracy(
    lineages: Sequence[Lineage], labels: Labels, predicted: Classes
) -> list[LevelAccuracy]:
    """Per level, the share of samples whose predicted class names the same taxon at that
    level as their true class (a prediction naming none there is wrong). Only samples whose
    true class names a taxon at the level count."""
    result = []
    for level in LEVELS:
        names = [getattr(lineage, level) for lineage in lineages]
        truth = [names[c] for c in labels.tolist()]
        guess = [names[c] for c in predicted.tolist()]
        scored = [t == g for t, g in zip(truth, guess, strict=True) if t is not None]
        correct = sum(scored)
        result.append(
            LevelAccuracy(
                level=level,
                samples=len(scored),
                correct=correct,
                accuracy=correct / len(scored) if scored else None,
            )
        )
    return result
