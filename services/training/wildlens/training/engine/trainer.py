"""The training loop: AdamW or SGD on a cosine schedule, float16 autocast on CUDA, validation
macro-F1 after each epoch with early stopping on it, the best epoch's weights kept, and a
checkpoint per epoch from which a fresh trainer (another worker) resumes exactly."""

from __future__ import annotations

import copy
import io
import random
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from wildlens.training.engine.architectures import BaseWeights, WeightsSource, build_classifier
from wildlens.training.engine.balance import balanced_sampler, loss_weights
from wildlens.training.engine.checkpoints import CheckpointStore
from wildlens.training.engine.config import TrainingConfig
from wildlens.training.engine.crop_cache import LocalCrops
from wildlens.training.engine.metrics import ValidationMetrics, confusion, macro_f1
from wildlens.training.engine.progress import (
    Progress,
    ProgressCallback,
    StopCheck,
    TrainingCancelled,
)
from wildlens.training.engine.samples import CropDataset, Reader, Sample, in_split
from wildlens.training.engine.transforms import eval_transform, train_transform

__all__ = ["CheckpointMismatch", "Trainer", "TrainingResult"]

# Bumped when the checkpoint's content changes shape.
_CHECKPOINT_FORMAT = 1
# Checkpoints hold tensors and plain data only, so they load without unpickling code.
_Weights = dict[str, torch.Tensor]


class CheckpointMismatch(ValueError):
    """The checkpoint found was written for another configuration or other classes."""


@dataclass
class TrainingResult:
    # The best epoch's weights, in eval mode, on the training device.
    model: nn.Module
    best_epoch: int
    best_validation: ValidationMetrics | None
    # The last epoch trained (equal to the configured epochs unless stopped early).
    epochs_run: int
    stopped_early: bool
    # The epoch a checkpoint resumed from (None: trained from the start).
    resumed_after: int | None
    base_weights: BaseWeights
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _State:
    epoch: int = 0
    best_f1: float = -1.0
    best_epoch: int = 0
    best_validation: dict[str, Any] | None = None
    best_weights: _Weights | None = None
    stale: int = 0
    finished: bool = False
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


def _better(validation: ValidationMetrics, state: _State) -> bool:
    """Whether this epoch beats the best so far: a higher validation macro-F1, or the same
    with a lower validation loss. On a small validation split macro-F1 soon stops moving (it
    reaches 1.0), while the loss still tells a model that is sure from one that is barely
    right; keeping the first epoch to reach the figure would keep the barely right one."""
    if validation.macro_f1 != state.best_f1:
        return validation.macro_f1 > state.best_f1
    best_loss = (state.best_validation or {}).get("loss")
    return best_loss is not None and validation.loss < float(best_loss)


def _cpu_copy(model: nn.Module) -> _Weights:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class Trainer:
    """Trains one classifier on the train split, validating on the validation split.

    Args:
        config: the hyperparameters.
        classes: the number of classes; sample labels are indices below it.
        samples: every sample of the dataset (the test split is not touched here).
        read: reads an object key's bytes, for samples given by key; called from several
            threads at once while the crops are fetched before the first epoch.
        weights: where to start from (random weights where None).
        checkpoints: where each finished epoch is saved and from where training resumes.
        on_progress: called after every step and every epoch.
        should_stop: asked before every step; True cancels (``TrainingCancelled``).
        crop_cache: the folder where crops given by key are copied before training (a
            temporary one, removed after, where None).
    """

    def __init__(
        self,
        config: TrainingConfig,
        classes: int,
        samples: Sequence[Sample],
        *,
        read: Reader | None = None,
        weights: WeightsSource | None = None,
        checkpoints: CheckpointStore | None = None,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        crop_cache: Path | None = None,
    ) -> None:
        self.config = config
        self.classes = classes
        self.train_samples = in_split(samples, "train")
        self.validation_samples = in_split(samples, "validation")
        if len(self.train_samples) < 2:
            raise ValueError(
                f"the train split has {len(self.train_samples)} samples; at least 2 are needed"
            )
        self.read = read
        self.weights = weights
        self.checkpoints = checkpoints
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.crop_cache = crop_cache
        self.device = torch.device(
            config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        )
        self.amp = config.mixed_precision and self.device.type == "cuda"

    # --- set-up ---------------------------------------------------------------------------

    def _train_loader(
        self, generator: torch.Generator, read: Reader | None
    ) -> DataLoader[tuple[torch.Tensor, int]]:
        norm = self.config.normalisation
        transform = train_transform(norm) if self.config.augment else eval_transform(norm)
        dataset: Dataset[tuple[torch.Tensor, int]] = CropDataset(
            self.train_samples, transform, read
        )
        labels = [s.label for s in self.train_samples]
        sampler = (
            balanced_sampler(labels, self.classes, generator)
            if self.config.balance == "sampler"
            else None
        )
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            generator=generator,
            # A last batch of one sample breaks batch normalisation.
            drop_last=len(labels) > self.config.batch_size,
            num_workers=self.config.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=self.config.workers > 0,
        )

    def _validation_loader(
        self, read: Reader | None
    ) -> DataLoader[tuple[torch.Tensor, int]] | None:
        if not self.validation_samples:
            return None
        dataset = CropDataset(
            self.validation_samples, eval_transform(self.config.normalisation), read
        )
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size * 2,
            num_workers=self.config.workers,
            pin_memory=self.device.type == "cuda",
        )

    def _criterion(self) -> nn.CrossEntropyLoss:
        weight = None
        if self.config.balance == "loss":
            labels = [s.label for s in self.train_samples]
            weight = loss_weights(labels, self.classes).to(self.device)
        return nn.CrossEntropyLoss(weight=weight, label_smoothing=self.config.label_smoothing)

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        config = self.config
        # No weight decay on biases and normalisation scales: it only shrinks them.
        decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
        plain = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
        groups = [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": plain, "weight_decay": 0.0},
        ]
        if config.optimizer == "sgd":
            return torch.optim.SGD(
                groups, lr=config.learning_rate, momentum=config.momentum, nesterov=True
            )
        return torch.optim.AdamW(groups, lr=config.learning_rate)

    # --- checkpoints ----------------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        return {"config": self.config.fingerprint(), "classes": self.classes}

    def _checkpoint(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler,
        generator: torch.Generator,
        state: _State,
    ) -> bytes:
        data = {
            "format": _CHECKPOINT_FORMAT,
            "identity": self._identity(),
            "model": _cpu_copy(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "sampler": generator.get_state(),
                "python": list(random.getstate()[1]),
            },
            "state": {
                "epoch": state.epoch,
                "best_f1": state.best_f1,
                "best_epoch": state.best_epoch,
                "best_validation": state.best_validation,
                # The model itself where this epoch is the best: a checkpoint need not hold
                # the same weights twice (ResNet-50's are 100 MB).
                "best_weights": None if state.best_epoch == state.epoch else state.best_weights,
                "stale": state.stale,
                "finished": state.finished,
                "stopped_early": state.stopped_early,
                "history": state.history,
            },
        }
        buffer = io.BytesIO()
        torch.save(data, buffer)
        return buffer.getvalue()

    def _restore(
        self,
        raw: bytes,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler,
        generator: torch.Generator,
    ) -> _State:
        data: dict[str, Any] = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        if data.get("format") != _CHECKPOINT_FORMAT:
            raise CheckpointMismatch(
                f"the checkpoint has format {data.get('format')}, this engine writes "
                f"{_CHECKPOINT_FORMAT}"
            )
        if data["identity"] != self._identity():
            theirs, ours = data["identity"], self._identity()
            differ = sorted(
                k
                for k in set(theirs["config"]) | set(ours["config"])
                if theirs["config"].get(k) != ours["config"].get(k)
            )
            if theirs["classes"] != ours["classes"]:
                differ.append("classes")
            raise CheckpointMismatch(
                f"the checkpoint was written by another training ({', '.join(differ)} differ)"
            )
        model.load_state_dict(data["model"])
        optimizer.load_state_dict(data["optimizer"])
        scheduler.load_state_dict(data["scheduler"])
        scaler.load_state_dict(data["scaler"])
        rng = data["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        generator.set_state(rng["sampler"])
        random.setstate((3, tuple(rng["python"]), None))
        saved = data["state"]
        return _State(
            epoch=saved["epoch"],
            best_f1=saved["best_f1"],
            best_epoch=saved["best_epoch"],
            best_validation=saved["best_validation"],
            best_weights=saved["best_weights"]
            if saved["best_weights"] is not None or saved["best_epoch"] != saved["epoch"]
            else data["model"],
            stale=saved["stale"],
            finished=saved["finished"],
            stopped_early=saved["stopped_early"],
            history=list(saved["history"]),
        )

    # --- the loop -------------------------------------------------------------------------

    def _validate(
        self,
        model: nn.Module,
        loader: DataLoader[tuple[torch.Tensor, int]],
        criterion: nn.Module,
    ) -> ValidationMetrics:
        model.eval()
        total_loss, count = 0.0, 0
        matrix = torch.zeros(self.classes, self.classes, dtype=torch.int64)
        with torch.inference_mode():
            for images, labels in loader:
                images = images.to(self.device, non_blocking=True)
                labels = labels.to(self.device, non_blocking=True)
                with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                    logits = model(images)
                total_loss += float(criterion(logits.float(), labels)) * len(labels)
                count += len(labels)
                matrix += confusion(labels.cpu(), logits.argmax(dim=1).cpu(), self.classes)
        hits = int(matrix.diagonal().sum())
        return ValidationMetrics(
            loss=total_loss / max(count, 1),
            accuracy=hits / max(count, 1),
            macro_f1=macro_f1(matrix),
            samples=count,
        )

    def fit(self) -> TrainingResult:
        """Train until the configured epochs, early stopping or cancellation.

        Raises:
            TrainingCancelled: ``should_stop`` said so; the last finished epoch is checkpointed.
            CheckpointMismatch: the checkpoint store holds another training's checkpoint.
        """
        started = time.perf_counter()
        keys = [
            s.crop
            for s in (*self.train_samples, *self.validation_samples)
            if isinstance(s.crop, str)
        ]
        if not keys or self.read is None:
            return self._fit(self.read, started)
        with ExitStack() as stack:
            folder = self.crop_cache or Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="wildlens-crops-"))
            )
            crops = LocalCrops(self.read, folder)
            crops.fetch(keys)
            return self._fit(crops.read, started)

    def _fit(self, read: Reader | None, started: float) -> TrainingResult:
        config = self.config
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        model, base = build_classifier(config.architecture, self.classes, self.weights)
        model = model.to(self.device)
        if self.device.type == "cuda":
            # Fixed input sizes: let cuDNN pick its fastest convolutions once.
            torch.backends.cudnn.benchmark = True
        train_loader = self._train_loader(generator, read)
        validation_loader = self._validation_loader(read)
        steps = len(train_loader)
        if config.max_steps_per_epoch is not None:
            steps = min(steps, config.max_steps_per_epoch)
        criterion = self._criterion()
        optimizer = self._optimizer(model)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.epochs * steps
        )
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)

        state = _State()
        resumed_after: int | None = None
        raw = self.checkpoints.load_latest() if self.checkpoints else None
        if raw is not None:
            state = self._restore(raw, model, optimizer, scheduler, scaler, generator)
            resumed_after = state.epoch

        step_seconds: list[float] = []
        validation_seconds = 0.0
        for epoch in range(state.epoch + 1, config.epochs + 1):
            if state.finished:
                break
            model.train()
            loss_sum, seen = 0.0, 0
            # Step times include waiting for the batch: the time left must count the pipeline.
            tick = time.perf_counter()
            for step, (images, labels) in enumerate(train_loader, start=1):
                if step > steps:
                    break
                if self.should_stop is not None and self.should_stop():
                    raise TrainingCancelled(state.epoch)
                images = images.to(self.device, non_blocking=True)
                labels = labels.to(self.device, non_blocking=True)
                with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                    loss = criterion(model(images), labels)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                loss_sum += float(loss.detach()) * len(labels)
                seen += len(labels)
                now = time.perf_counter()
                step_seconds.append(now - tick)
                tick = now
                if self.on_progress is not None:
                    self.on_progress(
                        self._progress(
                            "step",
                            epoch,
                            step,
                            steps,
                            loss_sum / seen,
                            optimizer,
                            step_seconds,
                            validation_seconds,
                            len(labels),
                        )
                    )
            tick = time.perf_counter()
            validation = (
                self._validate(model, validation_loader, criterion)
                if validation_loader is not None
                else None
            )
            validation_seconds = time.perf_counter() - tick
            # Without a validation split every epoch counts as the best: the last one is kept.
            if validation is None or _better(validation, state):
                state.best_f1 = validation.macro_f1 if validation is not None else state.best_f1
                state.best_epoch = epoch
                state.best_validation = validation.as_dict() if validation else None
                state.best_weights = _cpu_copy(model)
                state.stale = 0
            else:
                state.stale += 1
            state.epoch = epoch
            state.history.append(
                {
                    "epoch": epoch,
                    "train_loss": loss_sum / max(seen, 1),
                    "learning_rate": float(optimizer.param_groups[0]["lr"]),
                    "validation": validation.as_dict() if validation else None,
                }
            )
            if state.stale >= config.patience:
                state.finished = state.stopped_early = True
            elif epoch == config.epochs:
                state.finished = True
            if self.checkpoints is not None:
                self.checkpoints.save(
                    self._checkpoint(model, optimizer, scheduler, scaler, generator, state),
                    epoch,
                )
            if self.on_progress is not None:
                progress = self._progress(
                    "epoch",
                    epoch,
                    steps,
                    steps,
                    loss_sum / max(seen, 1),
                    optimizer,
                    step_seconds,
                    validation_seconds,
                    0,
                )
                self.on_progress(
                    replace(progress, validation=validation, best_epoch=state.best_epoch)
                )

        if state.best_weights is not None:
            model.load_state_dict(state.best_weights)
        model.eval()
        best = ValidationMetrics(**state.best_validation) if state.best_validation else None
        return TrainingResult(
            model=model,
            best_epoch=state.best_epoch,
            best_validation=best,
            epochs_run=state.epoch,
            stopped_early=state.stopped_early,
            resumed_after=resumed_after,
            base_weights=base,
            history=copy.deepcopy(state.history),
            seconds=time.perf_counter() - started,
        )

    def _progress(
        self,
        event: Literal["step", "epoch"],
        epoch: int,
        step: int,
        steps: int,
        loss: float,
        optimizer: torch.optim.Optimizer,
        step_seconds: list[float],
        validation_seconds: float,
        batch: int,
    ) -> Progress:
        recent = step_seconds[-50:]
        per_step = sum(recent) / len(recent) if recent else 0.0
        remaining_steps = (steps - step) + (self.config.epochs - epoch) * steps
        remaining_validations = self.config.epochs - epoch + (1 if event == "step" else 0)
        eta = (
            remaining_steps * per_step + remaining_validations * validation_seconds
            if recent
            else None
        )
        return Progress(
            event=event,
            epoch=epoch,
            epochs=self.config.epochs,
            step=step,
            steps=steps,
            loss=loss,
            learning_rate=float(optimizer.param_groups[0]["lr"]),
            samples_per_second=(batch or self.config.batch_size) / per_step if per_step else 0.0,
            eta_seconds=eta,
        )
