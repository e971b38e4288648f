"""Rare species are most of what matters and least of what is labelled: the loss either sees
every class about equally often (a weighted sampler) or weighs each by its rarity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch.utils.data import WeightedRandomSampler

__all__ = ["Balance", "balanced_sampler", "class_counts", "loss_weights"]

# sampler: draw each class about equally often; loss: weigh the loss by inverse frequency;
# none: the data as it comes.
Balance = Literal["sampler", "loss", "none"]


def class_counts(labels: Sequence[int], classes: int) -> list[int]:
    counts = [0] * classes
    for label in labels:
        if not 0 <= label < classes:
            raise ValueError(f"class index {label} outside 0..{classes - 1}")
        counts[label] += 1
    return counts


def balanced_sampler(
    labels: Sequence[int], classes: int, generator: torch.Generator
) -> WeightedRandomSampler:
    """An epoch of ``len(labels)`` draws with replacement, each class equally likely."""
    counts = class_counts(labels, classes)
    weights = torch.tensor([1.0 / counts[label] for label in labels], dtype=torch.double)
    return WeightedRandomSampler(
        weights.tolist(), num_samples=len(labels), replacement=True, generator=generator
    )


def loss_weights(labels: Sequence[int], classes: int) -> torch.Tensor:
    """``n / (k * count)`` per class, 1 on average over the samples; 0 for a class absent from
    training (it has nothing to weigh)."""
    counts = class_counts(labels, classes)
    present = sum(1 for c in counts if c)
    total = len(labels)
    return torch.tensor([total / (present * c) if c else 0.0 for c in counts], dtype=torch.float32)
