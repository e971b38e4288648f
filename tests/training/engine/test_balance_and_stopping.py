"""Rare classes are drawn as often as common ones (or weigh as much in the loss), and training
stops once validation macro-F1 stops improving, keeping the best epoch's weights."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from tests.training.engine.conftest import samples
from wildlens.training.engine import Progress, Sample, Trainer, TrainingConfig
from wildlens.training.engine.balance import balanced_sampler, loss_weights
from wildlens.training.engine.metrics import confusion, macro_f1


def test_the_balanced_sampler_draws_a_rare_class_as_often_as_a_common_one() -> None:
    labels = [0] * 90 + [1] * 10
    sampler = balanced_sampler(labels, 2, torch.Generator().manual_seed(0))
    drawn = Counter(labels[i] for _ in range(20) for i in sampler)
    assert sum(drawn.values()) == 2000
    assert drawn[1] / 2000 == pytest.approx(0.5, abs=0.05)


def test_loss_weights_grow_with_rarity_and_ignore_absent_classes() -> None:
    weights = loss_weights([0] * 6 + [1] * 2, 3)
    torch.testing.assert_close(weights, torch.tensor([8 / 12, 8 / 4, 0.0]))


def test_macro_f1_averages_the_classes_seen_or_predicted() -> None:
    truth = torch.tensor([0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 1, 1, 1, 1])
    # F1: class 0 2/3, class 1 2*2/(2+4) = 2/3, class 2 0.
    assert macro_f1(confusion(truth, predicted, 4)) == pytest.approx(4 / 9)


def test_training_stops_when_validation_macro_f1_stops_improving() -> None:
    # ConvNeXt normalises per sample (no running statistics) and a vanishing learning rate
    # leaves its answers unchanged: no epoch after the first does better.
    config = TrainingConfig(
        architecture="convnext_tiny",
        input_size=32,
        epochs=5,
        batch_size=2,
        max_steps_per_epoch=1,
        learning_rate=1e-12,
        patience=2,
        balance="loss",
    )
    epochs: list[Progress] = []
    result = Trainer(
        config,
        3,
        samples({"train": 2, "validation": 2}),
        on_progress=lambda p: epochs.append(p) if p.event == "epoch" else None,
    ).fit()
    assert result.stopped_early
    assert result.epochs_run == 3
    assert result.best_epoch == 1
    assert [p.epoch for p in epochs] == [1, 2, 3]
    assert all(p.validation is not None and p.best_epoch == 1 for p in epochs)
    assert result.best_validation == epochs[0].validation


def test_crops_named_by_object_key_are_read_with_the_reader_given() -> None:
    objects: dict[str, bytes] = {}
    keyed: list[Sample] = []
    for n, sample in enumerate(samples({"train": 2, "validation": 1})):
        key = f"crops/d-1/{n}.jpg"
        objects[key] = sample.crop()  # type: ignore[operator]
        keyed.append(Sample(crop=key, label=sample.label, split=sample.split))
    read: list[str] = []

    def reader(key: str) -> bytes:
        read.append(key)
        return objects[key]

    # Without a weighted sampler, an epoch reads every training crop once.
    config = TrainingConfig(
        architecture="resnet18", input_size=32, epochs=1, batch_size=2, balance="none"
    )
    result = Trainer(config, 3, keyed, read=reader).fit()
    assert result.best_validation is not None
    assert result.best_validation.samples == 3
    assert sorted(set(read)) == sorted(objects)
    with pytest.raises(ValueError, match="name object keys but no reader"):
        Trainer(config, 3, keyed).fit()
