"""A training job's checkpoints in object storage, as a training thread uses them: each finished
epoch kept under ``checkpoints/<job>/`` (the one before removed), the latest read back by the
worker that takes the job over, and a training that dies after an epoch resumed from it on
another "worker" to the same weights as one never interrupted. On the local folder and on S3."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import torch

from tests.common import test_storage
from tests.support.shapes import shape_jpeg
from wildlens.common.storage import ObjectStore
from wildlens.training import engine
from wildlens.training.jobs.store_bridge import (
    StoreCheckpoints,
    StoreReader,
    checkpoint_prefix,
    remove_checkpoints,
)

# The same store, on the local folder and on S3, as the storage tests use.
store = test_storage.store


async def test_each_epoch_replaces_the_last_and_the_latest_is_read_back(store: ObjectStore) -> None:
    loop = asyncio.get_running_loop()
    job = uuid.uuid4()
    checkpoints = StoreCheckpoints(store, loop, job)

    def train() -> bytes | None:
        assert checkpoints.load_latest() is None
        for epoch in (1, 2, 3):
            checkpoints.save(f"weights after {epoch}".encode(), epoch)
        return checkpoints.load_latest()

    assert await asyncio.to_thread(train) == b"weights after 3"
    kept = [info.key for info in await store.list(checkpoint_prefix(job))]
    assert kept == [f"checkpoints/{job}/epoch-0003.pt"]
    await remove_checkpoints(store, job)
    assert await store.list(checkpoint_prefix(job)) == []


async def test_a_training_that_died_resumes_from_storage_to_the_same_weights(
    store: ObjectStore,
) -> None:
    torch.set_num_threads(1)
    loop = asyncio.get_running_loop()
    read = StoreReader(store, loop)
    samples = []
    for n in range(24):
        key, label = f"crops/test/{n}.jpg", n % 3
        await store.put_bytes(key, shape_jpeg(label, seed=n, size=32), "image/jpeg")
        samples.append(engine.Sample(key, label, "train" if n % 4 else "validation"))
    classes = len({s.label for s in samples})
    config = engine.TrainingConfig(
        architecture="resnet18", input_size=32, epochs=2, batch_size=4, patience=2, seed=5
    )

    def fit(job: uuid.UUID, stop_after: int | None) -> engine.TrainingResult:
        finished: list[int] = []

        def progress(report: engine.Progress) -> None:
            if report.event == "epoch":
                finished.append(report.epoch)

        trainer = engine.Trainer(
            config,
            classes,
            samples,
            read=read,
            checkpoints=StoreCheckpoints(store, loop, job),
            on_progress=progress,
            should_stop=lambda: stop_after is not None and len(finished) >= stop_after,
        )
        return trainer.fit()

    whole = await asyncio.to_thread(fit, uuid.uuid4(), None)
    interrupted = uuid.uuid4()
    with pytest.raises(engine.TrainingCancelled):
        await asyncio.to_thread(fit, interrupted, 1)
    resumed = await asyncio.to_thread(fit, interrupted, None)
    assert resumed.resumed_after == 1
    assert resumed.epochs_run == whole.epochs_run == 2
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
