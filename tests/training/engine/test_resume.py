"""A checkpoint per finished epoch: a training stopped after its first epoch (cancelled, or its
worker gone) resumes in a fresh trainer at the next epoch and ends where an uninterrupted one
ends, with the same weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tests.training.engine.conftest import samples
from wildlens.training.engine import (
    CheckpointMismatch,
    FolderCheckpoints,
    Progress,
    Trainer,
    TrainingCancelled,
    TrainingConfig,
)

# On the CPU, where training is deterministic: resuming must give the very same weights.
CONFIG = TrainingConfig(
    architecture="resnet18",
    input_size=32,
    epochs=2,
    batch_size=4,
    max_steps_per_epoch=2,
    device="cpu",
)
DATA = samples({"train": 4, "validation": 2})


def _after_epoch(epoch: int) -> tuple[list[Progress], Callable[[], bool]]:
    seen: list[Progress] = []

    def stop() -> bool:
        return any(p.event == "epoch" and p.epoch >= epoch for p in seen)

    return seen, stop


def test_a_cancelled_training_resumes_from_its_last_epoch_and_ends_as_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    whole = Trainer(CONFIG, 3, DATA, checkpoints=FolderCheckpoints(tmp_path / "whole")).fit()
    assert whole.epochs_run == 2
    assert whole.resumed_after is None

    store = FolderCheckpoints(tmp_path / "stopped")
    seen, stop = _after_epoch(1)
    with pytest.raises(TrainingCancelled, match="cancelled after epoch 1") as cancelled:
        Trainer(CONFIG, 3, DATA, checkpoints=store, on_progress=seen.append, should_stop=stop).fit()
    assert cancelled.value.epoch == 1
    assert store.epochs() == [1]

    # Another worker, a fresh trainer, the same checkpoints.
    epochs: list[int] = []
    resumed = Trainer(
        CONFIG,
        3,
        DATA,
        checkpoints=store,
        on_progress=lambda p: epochs.append(p.epoch) if p.event == "epoch" else None,
    ).fit()
    assert resumed.resumed_after == 1
    assert epochs == [2]
    assert resumed.epochs_run == whole.epochs_run == 2
    assert store.epochs() == [1, 2]
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.best_epoch == whole.best_epoch
    for name, tensor in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor, msg=name)


def test_a_worker_that_dies_mid_epoch_loses_only_that_epoch(tmp_path: Path) -> None:
    store = FolderCheckpoints(tmp_path)
    steps: list[tuple[int, int]] = []

    def die(progress: Progress) -> None:
        steps.append((progress.epoch, progress.step))
        if (progress.epoch, progress.step, progress.event) == (2, 1, "step"):
            raise RuntimeError("the worker's node went away")

    with pytest.raises(RuntimeError, match="went away"):
        Trainer(CONFIG, 3, DATA, checkpoints=store, on_progress=die).fit()
    assert store.epochs() == [1]
    resumed = Trainer(CONFIG, 3, DATA, checkpoints=store).fit()
    assert (resumed.resumed_after, resumed.epochs_run) == (1, 2)


def test_a_finished_training_resumed_again_trains_nothing_more(tmp_path: Path) -> None:
    store = FolderCheckpoints(tmp_path)
    Trainer(CONFIG, 3, DATA, checkpoints=store).fit()
    again = Trainer(
        CONFIG, 3, DATA, checkpoints=store, should_stop=lambda: pytest.fail("trained again")
    ).fit()
    assert (again.resumed_after, again.epochs_run) == (2, 2)


def test_checkpoints_of_another_training_are_refused(tmp_path: Path) -> None:
    store = FolderCheckpoints(tmp_path)
    one_epoch = TrainingConfig(
        architecture="resnet18", input_size=32, epochs=1, batch_size=4, max_steps_per_epoch=1
    )
    Trainer(one_epoch, 3, DATA, checkpoints=store).fit()
    with pytest.raises(CheckpointMismatch, match=r"another training \(epochs, max_steps"):
        Trainer(CONFIG, 3, DATA, checkpoints=store).fit()


def test_cancelling_stops_before_the_next_step(tmp_path: Path) -> None:
    steps: list[int] = []
    with pytest.raises(TrainingCancelled) as cancelled:
        Trainer(
            CONFIG,
            3,
            DATA,
            on_progress=lambda p: steps.append(p.step) if p.event == "step" else None,
            should_stop=lambda: len(steps) >= 1,
        ).fit()
    assert steps == [1]
    assert cancelled.value.epoch == 0
