"""Crops named by object key are fetched from storage once per job, however many epochs it
trains, and a job given the folder of an earlier run's copies (a resumed job on the same
worker) fetches none again."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.training.engine.conftest import samples
from wildlens.training.engine import Sample, Trainer, TrainingConfig


def _keyed() -> tuple[dict[str, bytes], list[Sample]]:
    objects: dict[str, bytes] = {}
    keyed: list[Sample] = []
    for n, sample in enumerate(samples({"train": 3, "validation": 1})):
        key = f"crops/d-2/{n}.jpg"
        objects[key] = sample.crop()  # type: ignore[operator]
        keyed.append(Sample(crop=key, label=sample.label, split=sample.split))
    return objects, keyed


def test_each_crop_is_read_from_storage_once_for_all_epochs(tmp_path: Path) -> None:
    objects, keyed = _keyed()
    reads: Counter[str] = Counter()
    lock = threading.Lock()

    def reader(key: str) -> bytes:
        with lock:
            reads[key] += 1
        return objects[key]

    config = TrainingConfig(architecture="resnet18", input_size=32, epochs=3, batch_size=3)
    cache = tmp_path / "crops"
    first = Trainer(config, 3, keyed, read=reader, crop_cache=cache).fit()
    assert first.epochs_run == 3
    assert reads == dict.fromkeys(objects, 1)

    # A second run with the same folder finds every crop there: nothing is read again.
    again = Trainer(config, 3, keyed, read=reader, crop_cache=cache).fit()
    assert again.epochs_run == 3
    assert reads == dict.fromkeys(objects, 1)


def test_a_crop_storage_cannot_give_fails_the_training_before_it_starts() -> None:
    objects, keyed = _keyed()
    missing = next(iter(objects))

    def reader(key: str) -> bytes:
        if key == missing:
            raise KeyError(key)
        return objects[key]

    steps: list[object] = []
    config = TrainingConfig(architecture="resnet18", input_size=32, epochs=1, batch_size=3)
    with pytest.raises(KeyError):
        Trainer(config, 3, keyed, read=reader, on_progress=steps.append).fit()
    assert steps == []
