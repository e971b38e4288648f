"""The figures early stopping reads after each epoch."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

__all__ = ["ValidationMetrics", "confusion", "macro_f1"]


@dataclass(frozen=True)
class ValidationMetrics:
    loss: float
    accuracy: float
    macro_f1: float
    samples: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def confusion(truth: torch.Tensor, predicted: torch.Tensor, classes: int) -> torch.Tensor:
    """``[classes, classes]`` counts, rows the true class, columns the prediction."""
    flat = truth.to(torch.int64) * classes + predicted.to(torch.int64)
    return torch.bincount(flat, minlength=classes * classes).reshape(classes, classes)


def macro_f1(matrix: torch.Tensor) -> float:
    """The mean F1 over the classes that occur in the truth or the predictions (as
    scikit-learn's ``f1_score(average="macro")``); a class never seen nor predicted says
    nothing about the model."""
    matrix = matrix.to(torch.float64)
    hits = matrix.diagonal()
    actual, predicted = matrix.sum(dim=1), matrix.sum(dim=0)
    present = (actual + predicted) > 0
    if not bool(present.any()):
        return 0.0
    f1 = torch.where(actual + predicted > 0, 2 * hits / (actual + predicted).clamp_min(1), 0.0)
    return float(f1[present].mean())
