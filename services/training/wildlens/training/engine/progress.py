"""What training tells the job while it runs, and how the job stops it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from wildlens.training.engine.metrics import ValidationMetrics

__all__ = ["Progress", "ProgressCallback", "StopCheck", "TrainingCancelled"]


@dataclass(frozen=True)
class Progress:
    # "step" after each training step, "epoch" after each epoch's validation and checkpoint.
    event: Literal["step", "epoch"]
    epoch: int
    epochs: int
    step: int
    steps: int
    # Mean training loss over the epoch so far.
    loss: float
    learning_rate: float
    samples_per_second: float
    # Seconds left if every remaining epoch runs (early stopping may end sooner).
    eta_seconds: float | None
    # On "epoch": this epoch's validation figures (None without a validation split).
    validation: ValidationMetrics | None = None
    best_epoch: int | None = None


ProgressCallback = Callable[[Progress], None]
# Asked before every step; True stops training (the last finished epoch's checkpoint stays).
StopCheck = Callable[[], bool]


class TrainingCancelled(Exception):
    """Training stopped because it was asked to; ``epoch`` is the last finished epoch."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"training was cancelled after epoch {epoch}")
        self.epoch = epoch
