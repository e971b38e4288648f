"""Training a detector: AdamW over letterboxed frames and their boxes, one validation mAP@0.5
per epoch, the best epoch's weights kept, early stopping after ``patience`` epochs without a
better one, and a way out between batches when the job is cancelled."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from wildlens.training.engine.architectures import BaseWeights, WeightsSource
from wildlens.training.engine.detection.data import FrameDataset, FrameSample, collate
from wildlens.training.engine.detection.model import build_detector
from wildlens.training.engine.detection.predict import predict
from wildlens.training.engine.progress import TrainingCancelled
from wildlens.training.engine.samples import Reader
from wildlens.training.evaluation.detection import Frame, FrameDetections, evaluate_detector

__all__ = ["DetectorConfig", "DetectorResult", "DetectorTrainer", "EpochReport"]


@dataclass(frozen=True)
class DetectorConfig:
    architecture: str
    size: int
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    seed: int = 0


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    epochs: int
    loss: float
    map_50: float | None
    eta_seconds: float | None


@dataclass
class DetectorResult:
    model: nn.Module
    base_weights: BaseWeights
    epochs_run: int
    best_epoch: int
    stopped_early: bool
    seconds: float


def frames_of(samples: Sequence[FrameSample], size: int, read: Reader) -> list[Frame]:
    """The confirmed boxes of ``samples`` in input pixels, for evaluation."""
    from wildlens.training.engine.detection.data import letterboxed

    frames = []
    for s in samples:
        _, boxes = letterboxed(read(s.key), s.boxes, size)
        frames.append(Frame(boxes, np.asarray(list(s.labels), dtype=np.int64), s.location_id))
    return frames


class DetectorTrainer:
    def __init__(
        self,
        config: DetectorConfig,
        classes: Sequence[str],
        samples: Sequence[FrameSample],
        *,
        read: Reader,
        weights: WeightsSource | None = None,
        on_epoch: Callable[[EpochReport], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.config = config
        self.classes = list(classes)
        self.samples = list(samples)
        self.read = read
        self.weights = weights
        self.on_epoch = on_epoch
        self.should_stop = should_stop or (lambda: False)

    def _validation_map(
        self, model: nn.Module, frames: list[Frame], chosen: list[FrameSample]
    ) -> float:
        found = predict(model, chosen, self.config.size, self.read)
        figures = evaluate_detector(
            frames,
            [FrameDetections(p.boxes, p.scores, p.labels) for p in found],
            self.classes,
            {},
        )
        return float(figures["map_50"] or 0.0)

    def fit(self) -> DetectorResult:
        """Train; blocking. Raises ``TrainingCancelled`` when ``should_stop`` says so."""
        config = self.config
        torch.manual_seed(config.seed)
        started = time.monotonic()
        model, base = build_detector(
            config.architecture, len(self.classes), config.size, self.weights
        )
        train = [s for s in self.samples if s.split == "train"]
        validation = [s for s in self.samples if s.split == "validation"]
        loader = DataLoader(
            FrameDataset(train, config.size, self.read, train=True),
            batch_size=config.batch_size,
            shuffle=True,
            collate_fn=collate,
            generator=torch.Generator().manual_seed(config.seed),
            drop_last=len(train) > config.batch_size,
        )
        optimiser = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=1e-4
        )
        steps = max(1, config.epochs * len(loader))
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=config.learning_rate, total_steps=steps, pct_start=0.15
        )
        frames = frames_of(validation, config.size, self.read)
        best: dict[str, Any] | None = None
        best_map, best_epoch, since_best, epoch = -1.0, 0, 0, 0
        stopped_early = False
        for epoch in range(1, config.epochs + 1):
            model.train()
            losses = []
            for images, targets in loader:
                if self.should_stop():
                    raise TrainingCancelled(epoch - 1)
                parts = model(images, targets)
                loss = sum(parts.values())
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                optimiser.step()
                schedule.step()
                losses.append(float(loss.detach()))
            mean_loss = float(np.mean(losses)) if losses else math.nan
            score = self._validation_map(model, frames, validation) if validation else None
            # Without a validation split the last epoch is kept.
            value = score if score is not None else float(epoch)
            if value > best_map:
                best_map, best_epoch, since_best = value, epoch, 0
                best = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
            elapsed = time.monotonic() - started
            if self.on_epoch is not None:
                self.on_epoch(
                    EpochReport(
                        epoch,
                        config.epochs,
                        mean_loss,
                        score,
                        elapsed / epoch * (config.epochs - epoch),
                    )
                )
            if config.patience and since_best >= config.patience:
                stopped_early = True
                break
        if best is not None:
            model.load_state_dict(best)
        model.eval()
        return DetectorResult(
            model, base, epoch, best_epoch, stopped_early, time.monotonic() - started
        )
