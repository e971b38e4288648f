"""Training throughput: samples/s of the engine's training loop fed from object storage next to
the same loop fed from tensors already in memory.

Generated crops (the test suite's shapes, ``--crop-side`` px JPEGs) are written to an S3 bucket
as a dataset's crops (``crops/<dataset>/<observation>.jpg``); the S3 server is moto in its own
process and the crops are read through the platform's ``S3Store`` (the ``minio`` client), from
a synchronous reader that hands each read to the store's event loop, as a training job does.
In one run, with the same configuration (architecture, input size, batch size, epochs):

* storage: ``Trainer.fit`` on samples that name the crops' object keys, so the engine's own
  pipeline reads them from storage, decodes, augments (``train_transform``) and batches them
  through its ``DataLoader`` with the configured workers;
* in memory: the same ``Trainer.fit`` (the same loop, optimiser, schedule and model) whose
  training loader is a ``TensorDataset`` of the same crops, decoded and augmented once before
  the clock starts.

The figures compared are the steady pace of each ``fit``: samples over the time from the end of
its first step to the end of its last, epoch boundaries included. What a ``fit`` spends before
its first step ends (fetching the crops from storage, building the model, starting the loader)
is printed beside, with the whole ``fit``'s samples/s. Rounds alternate between the two so
that drift in the machine's speed hits both alike; the stages of one crop's way (GET, decode,
augment) are timed on their own to say where a slow pipeline spends its time.

The closed-loop job (skipped with ``--no-closed-loop``): the whole platform in embedded mode in
this process (SQLite, a local object folder, the in-process bus; no detector), the taxon tree of
the end-to-end tests imported, a project with five locations, 4 generated scenes of each of 3
species per location uploaded (``tests/e2e/test_training_loop.py``'s scenes) and each labelled by
a person with the animal's box. ``POST /v1/training-jobs`` (that test's label spec and
hyperparameters, ResNet-18, on the CPU) is timed until the job has succeeded; its phases are the
times its log lines were first seen (polled every 0.2 s): dataset build, training epochs (and the
engine's own figure), evaluation, ONNX export with its parity check, registration. Also printed:
the crops in its dataset and the test top-1 of ``GET /v1/models/{id}/evaluation``.

With ``--amp`` it also trains EfficientNet-B0 at 224 px with float16 mixed precision on
``--device`` (on CPU the engine trains in float32), fed from storage and from synthetic tensors.

    python bench/training.py [--architecture efficientnet_b0] [--size 96] [--batch-size 32]
        [--crops 192] [--epochs 2] [--rounds 3] [--workers 0] [--device cpu] [--amp]
        [--no-closed-loop]

The last line reads ``training samples/s from storage: <x>, ratio R`` (the median of the
rounds' figures from storage; R = the median of the rounds' storage / in-memory ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
ACCESS, SECRET, REGION = "bench", "bench-secret", "us-east-1"

from tests.e2e.test_classification import TREE  # noqa: E402
from tests.e2e.test_taxa import import_tree  # noqa: E402
from tests.e2e.test_training_loop import (  # noqa: E402
    BOX,
    HYPERPARAMETERS,
    PER_SPECIES,
    SPEC,
    SPECIES,
    _survey,
    _upload,
)
from tests.support.api import bearer, ok  # noqa: E402
from tests.support.factories import Deployments, Sites  # noqa: E402
from tests.support.platform import (  # noqa: E402
    RunningPlatform,
    admin_token,
    embedded_settings,
    eventually,
    get_media,
    running,
    user_token,
)
from tests.support.shapes import SHAPE_LABELS, shape_jpeg  # noqa: E402
from wildlens.common.settings import StorageSettings  # noqa: E402
from wildlens.common.storage import S3Store, create_store  # noqa: E402
from wildlens.common.telemetry import configure_logging  # noqa: E402
from wildlens.training.datasets.split import SPLITS  # noqa: E402
from wildlens.training.engine import (  # noqa: E402
    CropDataset,
    Reader,
    Sample,
    Trainer,
    TrainingConfig,
    train_transform,
)

_T = TypeVar("_T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_moto(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not reachable(port):
        if time.monotonic() > deadline:
            process.terminate()
            raise RuntimeError("moto_server did not start")
        time.sleep(0.2)
    return process


class StoreThread:
    """The object store on an event loop of its own thread, with a synchronous reader: a job
    runs ``Trainer.fit`` in a worker thread and reads through its service's store like this."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        settings = StorageSettings(access_key=ACCESS, secret_key=SECRET)
        self.store = create_store(url, settings, public_url="http://127.0.0.1:0", signing_key=b"b")
        assert isinstance(self.store, S3Store)
        self.call(self.store.start())

    def call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def read(self, key: str) -> bytes:
        return self.call(self.store.get_bytes(key))

    def close(self) -> None:
        self.call(self.store.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def write_crops(store: StoreThread, count: int, side: int) -> list[Sample]:
    """``count`` crops of the generated shapes under one dataset's prefix, as training samples."""
    dataset = uuid.uuid4()
    rows = [(f"crops/{dataset}/{uuid.uuid4()}.jpg", n % len(SHAPE_LABELS)) for n in range(count)]

    async def put_all() -> None:
        limit = asyncio.Semaphore(16)

        async def put(n: int, key: str, label: int) -> None:
            async with limit:
                await store.store.put_bytes(key, shape_jpeg(label, n, side), "image/jpeg")

        await asyncio.gather(*(put(n, key, label) for n, (key, label) in enumerate(rows)))

    store.call(put_all())
    return [Sample(crop=key, label=label, split="train") for key, label in rows]


def _unread() -> bytes:
    raise AssertionError("the in-memory loop reads no crops")


class InMemoryTrainer(Trainer):
    """The engine's trainer, its training batches drawn from tensors already in memory."""

    def __init__(
        self, config: TrainingConfig, classes: int, samples: Sequence[Sample], data: TensorDataset
    ) -> None:
        # The samples only say how many there are: the batches come from ``data``.
        placeholders = [Sample(crop=_unread, label=s.label, split=s.split) for s in samples]
        super().__init__(config, classes, placeholders)
        self.data = data

    def _train_loader(self, generator: torch.Generator, read: Reader | None) -> DataLoader[Any]:
        return DataLoader(
            self.data,
            batch_size=self.config.batch_size,
            shuffle=True,
            generator=generator,
            drop_last=len(self.data) > self.config.batch_size,
            pin_memory=self.device.type == "cuda",
        )


def prepared(samples: Sequence[Sample], config: TrainingConfig, read: Reader) -> TensorDataset:
    """The crops decoded and augmented once, as the tensors the in-memory loop trains on."""
    dataset = CropDataset(samples, train_transform(config.normalisation), read)
    images, labels = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    return TensorDataset(torch.stack(images), torch.tensor(labels))


def synthetic(count: int, config: TrainingConfig, classes: int) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    size = config.input_size
    images = torch.randn(count, 3, size, size, generator=generator)
    return TensorDataset(images, torch.arange(count) % classes)


@dataclass
class Fit:
    # Samples/s over the steps after the first: the loop's pace once its pipeline runs.
    steady: float
    # Samples/s over the whole ``fit``, its start included.
    whole: float
    # Seconds from calling ``fit`` to the end of its first step: fetching the crops, building
    # the model, starting the loader, the first batch and step.
    start: float


def timed_fit(trainer: Trainer) -> Fit:
    ends: list[float] = []
    trainer.on_progress = lambda p: ends.append(time.perf_counter()) if p.event == "step" else None
    started = time.perf_counter()
    trainer.fit()
    elapsed = time.perf_counter() - started
    batch = trainer.config.batch_size
    whole = len(ends) * batch / elapsed
    return Fit(
        # One step has no pace after its first: the whole fit's figure stands for it.
        steady=(len(ends) - 1) * batch / (ends[-1] - ends[0]) if len(ends) > 1 else whole,
        whole=whole,
        start=ends[0] - started,
    )


def stage_ms(samples: Sequence[Sample], config: TrainingConfig, read: Reader) -> dict[str, float]:
    """Milliseconds per crop of each stage of the pipeline, one crop after another."""
    transform = train_transform(config.normalisation)
    totals = {"GET": 0.0, "decode": 0.0, "augment": 0.0}
    for sample in samples:
        assert isinstance(sample.crop, str)
        t0 = time.perf_counter()
        data = read(sample.crop)
        t1 = time.perf_counter()
        image = CropDataset([sample], transform, {sample.crop: data}.__getitem__).image(0)
        t2 = time.perf_counter()
        transform(image)
        totals["GET"] += t1 - t0
        totals["decode"] += t2 - t1
        totals["augment"] += time.perf_counter() - t2
    return {stage: 1000 * s / len(samples) for stage, s in totals.items()}


def compare(
    name: str,
    config: TrainingConfig,
    samples: Sequence[Sample],
    memory: TensorDataset,
    read: Reader,
    rounds: int,
) -> tuple[float, float, float]:
    """Median steady samples/s fed from storage and from memory, and the median of the rounds'
    ratios.

    Each round trains both ways back to back, in turns which goes first, so that a neighbour
    taking the cores for a while weighs on the two alike; the ratio of one round is the figure
    least disturbed by such neighbours.
    """
    classes = len(SHAPE_LABELS)
    # First calls of a model allocate and pick kernels: not counted against either.
    warm = replace(config, epochs=1, max_steps_per_epoch=2)
    timed_fit(InMemoryTrainer(warm, classes, samples, memory))
    from_storage: list[Fit] = []
    in_memory: list[Fit] = []
    for n in range(rounds):
        for way in ("storage", "memory") if n % 2 == 0 else ("memory", "storage"):
            if way == "storage":
                from_storage.append(timed_fit(Trainer(config, classes, samples, read=read)))
            else:
                in_memory.append(timed_fit(InMemoryTrainer(config, classes, samples, memory)))
        a, b = from_storage[-1], in_memory[-1]
        print(
            f"{name} round {n + 1}: from storage {a.steady:.1f} samples/s "
            f"(whole fit {a.whole:.1f}, start {a.start:.1f} s), in memory {b.steady:.1f} "
            f"(whole fit {b.whole:.1f}, start {b.start:.1f} s), ratio {a.steady / b.steady:.2f}",
            flush=True,
        )
    ratios = [a.steady / b.steady for a, b in zip(from_storage, in_memory, strict=True)]
    return (
        statistics.median(f.steady for f in from_storage),
        statistics.median(f.steady for f in in_memory),
        statistics.median(ratios),
    )


# The closed-loop job --------------------------------------------------------------------------

# How often the job is read while it runs: its phases are timed to about this.
JOB_POLL_S = 0.2
# The closed loop on a busy two-core machine: far above what it takes, short of forever.
JOB_TIMEOUT_S = 1800.0
# Each phase ends when the first log line starting so appears (ClassifierRun's lines).
PHASE_ENDS = (
    ("dataset build", "dataset "),
    ("training epochs", "trained "),
    ("evaluation", "test top-1"),
    ("ONNX export and parity", "exported to ONNX"),
)


@dataclass
class JobTimes:
    # Seconds from POST /v1/training-jobs until the job was seen succeeded.
    wall: float
    # Seconds the job's row says it took, created_at to finished_at, and waited in the queue,
    # created_at to started_at.
    recorded: float
    queued: float
    # Seconds from the POST until each line (its prefix in PHASE_ENDS) was first seen.
    seen: dict[str, float] = field(default_factory=dict)
    job: dict[str, Any] = field(default_factory=dict)


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


async def _labelled_project(wl: RunningPlatform, admin: str) -> tuple[str, int]:
    """The project of the closed-loop test, its scenes labelled by a person with their box
    rather than detected and corrected: answers the project and the media uploaded."""
    await import_tree(wl.client, admin, TREE)
    site, deployments = await _survey(
        wl, admin, Sites(wl.client, admin), Deployments(wl.client, admin)
    )
    pid = site.project_id
    annotator = user_token(wl.settings, "ade", {pid: "annotator"})
    posted = [
        (
            await _upload(wl, site.device_token, deployment, species, 1000 * n + 10 * species + k),
            species,
        )
        for n, deployment in enumerate(deployments)
        for species in range(len(SPECIES))
        for k in range(PER_SPECIES)
    ]
    for media_id, species in posted:
        # A person labels what the catalogue has recorded.
        await eventually(partial(get_media, wl.client, admin, media_id), timeout=120)
        await ok(
            await wl.client.post(
                f"/v1/projects/{pid}/media/{media_id}/observations",
                json={
                    "observation_type": "animal",
                    "scientific_name": SPECIES[species],
                    "bbox": list(BOX),
                },
                headers=bearer(annotator),
            ),
            201,
        )
    return pid, len(posted)


async def _timed_job(wl: RunningPlatform, manager: str, pid: str) -> JobTimes:
    """``POST /v1/training-jobs`` followed until it succeeds, noting when each line appears."""
    started = time.perf_counter()
    job = await ok(
        await wl.client.post(
            "/v1/training-jobs",
            json={
                "project_id": pid,
                "label_spec": SPEC,
                "architecture": "resnet18",
                "hyperparameters": HYPERPARAMETERS,
                "seed": 3,
            },
            headers=bearer(manager),
        ),
        202,
    )
    seen: dict[str, float] = {}
    while True:
        job = await ok(
            await wl.client.get(f"/v1/training-jobs/{job['id']}", headers=bearer(manager)), 200
        )
        now = time.perf_counter() - started
        for _, prefix in PHASE_ENDS:
            if prefix not in seen and any(line.startswith(prefix) for line in job["log_tail"]):
                seen[prefix] = now
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        if now > JOB_TIMEOUT_S:
            raise RuntimeError(f"the job did not end within {JOB_TIMEOUT_S:.0f} s: {job}")
        await asyncio.sleep(JOB_POLL_S)
    if job["status"] != "succeeded":
        raise RuntimeError(f"the job {job['status']}: {job['problem']}; {job['log_tail']}")
    return JobTimes(
        wall=now,
        recorded=_seconds(job["created_at"], job["finished_at"]),
        queued=_seconds(job["created_at"], job["started_at"]),
        seen=seen,
        job=job,
    )


async def closed_loop() -> None:
    """The closed-loop job on the CPU, its figures printed."""
    with tempfile.TemporaryDirectory(prefix="wildlens-bench-") as scratch:
        settings = embedded_settings(Path(scratch) / "data")
        # The figures, not the platform's request log.
        settings = settings.model_copy(update={"log_level": "WARNING"})
        configure_logging(settings.log_level, json=settings.log_json)
        async with running(settings, ["catalogue", "ingest", "training"]) as wl:
            admin = admin_token(settings)
            began = time.perf_counter()
            pid, media = await _labelled_project(wl, admin)
            print(
                f"closed loop: {media} scenes of {len(SPECIES)} species uploaded and labelled "
                f"with their box in {time.perf_counter() - began:.1f} s (embedded platform)",
                flush=True,
            )
            manager = user_token(settings, "marta", {pid: "manager"})
            times = await _timed_job(wl, manager, pid)
            model = times.job["model_id"]
            report = await ok(
                await wl.client.get(f"/v1/models/{model}/evaluation", headers=bearer(manager)),
                200,
            )
            manifest = await ok(
                await wl.client.get(
                    f"/v1/datasets/{report['dataset_id']}/manifest", headers=bearer(manager)
                ),
                200,
            )
    _print_job(times, manifest["samples"], report["challenger"]["top1"])


def _print_job(times: JobTimes, samples: Sequence[dict[str, Any]], top1: float) -> None:
    job = times.job
    hp = job["hyperparameters"]
    splits = {split: sum(1 for s in samples if s["split"] == split) for split in SPLITS}
    print(
        f"closed-loop job ({job['architecture']}, {hp['image_size']} px, batch "
        f"{hp['batch_size']}, up to {job['epochs']} epochs, CPU): {len(samples)} crops ("
        + ", ".join(f"{n} {split}" for split, n in splits.items())
        + f"), {job['epoch']} epochs run, test top-1 {top1:.3f}",
        flush=True,
    )
    # Each phase from the previous line's sighting (the job's start: the POST) to its own.
    phases, previous = [], 0.0
    for name, prefix in PHASE_ENDS:
        if prefix in times.seen:
            phases.append(f"{name} {times.seen[prefix] - previous:.1f} s")
            previous = times.seen[prefix]
    phases.append(f"registration {times.wall - previous:.1f} s")
    trained = next((line for line in job["log_tail"] if line.startswith("trained ")), "")
    print(
        f"closed-loop job phases, as its log lines appeared (±{JOB_POLL_S} s; the first "
        f"includes {times.queued:.1f} s in the queue): {', '.join(phases)}"
        + (f"; the engine: {trained}" if trained else "")
    )
    print(
        f"closed-loop job wall time: {times.wall:.1f} s from POST to succeeded "
        f"({times.recorded:.1f} s created to finished by its record)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--architecture", default="efficientnet_b0")
    parser.add_argument("--size", type=int, default=96, help="input size, px")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--crops", type=int, default=192, help="crops in the dataset")
    parser.add_argument("--crop-side", type=int, default=256, help="side of the stored crops, px")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    parser.add_argument(
        "--amp",
        action="store_true",
        help="also train EfficientNet-B0 at 224 px with mixed precision (CUDA only)",
    )
    parser.add_argument("--amp-steps", type=int, default=None, help="steps of the --amp runs")
    parser.add_argument(
        "--no-closed-loop",
        action="store_true",
        help="leave out the closed-loop training job on the embedded platform",
    )
    args = parser.parse_args()

    config = TrainingConfig(
        architecture=args.architecture,
        input_size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        balance="none",
        workers=args.workers,
        device=args.device,
        mixed_precision=args.amp,
    )
    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load:.1f}, torch threads "
        f"{torch.get_num_threads()}, device {args.device}"
    )
    s3_port = free_port()
    moto = start_moto(s3_port)
    store: StoreThread | None = None
    try:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        store = StoreThread(f"s3://127.0.0.1:{s3_port}/{bucket}?secure=false&region={REGION}")
        started = time.perf_counter()
        samples = write_crops(store, args.crops, args.crop_side)
        print(
            f"crops: {len(samples)} generated {args.crop_side} px JPEGs in S3 (moto), written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        print(
            f"training: {config.architecture}, {config.input_size} px, batch "
            f"{config.batch_size}, {config.epochs} epochs of "
            f"{len(samples) // config.batch_size} steps, {config.workers} DataLoader workers"
        )
        stages = stage_ms(samples[:64], config, store.read)
        memory = prepared(samples, config, store.read)
        from_storage, in_memory, ratio = compare(
            "main", config, samples, memory, store.read, args.rounds
        )
        if args.amp:
            amp_images(args, samples, store.read)
    finally:
        if store is not None:
            store.close()
        moto.terminate()
        moto.wait(timeout=30)

    if not args.no_closed_loop:
        asyncio.run(closed_loop())

    compute = 1000 / in_memory
    print(
        "pipeline ms/crop, one after another: "
        + ", ".join(f"{stage} {ms:.2f}" for stage, ms in stages.items())
        + f"; training step ms/sample in memory {compute:.2f}"
    )
    print(f"in memory: {in_memory:.1f} samples/s")
    print(f"training samples/s from storage: {from_storage:.1f}, ratio {ratio:.2f}")


def amp_images(args: argparse.Namespace, samples: Sequence[Sample], read: Reader) -> None:
    """EfficientNet-B0 at 224 px with float16 autocast, from storage and synthetic tensors."""
    cuda = args.device.startswith("cuda")
    batch = 64 if cuda else 8
    steps = args.amp_steps or (40 if cuda else 2)
    config = TrainingConfig(
        architecture="efficientnet_b0",
        input_size=224,
        epochs=1,
        batch_size=batch,
        balance="none",
        max_steps_per_epoch=steps,
        workers=args.workers,
        device=args.device,
        mixed_precision=True,
    )
    used = samples[: max(batch * steps, batch + 1)]
    # Enough epochs over the crops there are for the steps asked.
    config = replace(config, epochs=-(-steps // max(1, len(used) // batch)))
    memory = synthetic(len(used), config, len(SHAPE_LABELS))
    from_storage, in_memory, _ = compare("efficientnet_b0 224 px", config, used, memory, read, 1)
    precision = "float16 mixed precision" if cuda else "float32 (no autocast on CPU)"
    print(
        f"efficientnet_b0 224 px, {precision}, batch {batch}, {steps} steps: "
        f"from storage {from_storage:.1f} images/s, synthetic tensors {in_memory:.1f} images/s"
    )


if __name__ == "__main__":
    main()
