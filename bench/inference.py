"""Inference throughput: images/s through the ``media.recorded`` consumer next to a tight loop.

A YOLOv8n-architecture detector (Ultralytics' ``yolov8n.yaml``, three classes, random weights)
is exported to ONNX at 640 px and written as a bundle. In one run, on the real 2048x1440
camera-trap JPEGs:

* consumer: the inference service's ``Analyzer`` (what the bus's batch handler calls) with a
  context whose object store is a ``LocalStore`` holding the JPEGs and whose publish collects the
  ``media.analyzed`` envelopes; ``media.recorded`` envelopes arrive in bus batches of 8, with
  as many handler calls running at once as the broker's prefetch allows (32 messages), as the
  bus delivers them; the analyzer's micro-batcher forms the model runs (at most 8 images);
* tight loop: decode (PIL) + letterbox (``preprocess``) + ``session.run`` on an ONNX Runtime
  session made with the service's own session options, same images, same batch size.

Rounds alternate between the two so drift in the machine's speed hits both alike.

    python bench/inference.py [--batches 6] [--rounds 3] [--batch-size 8]

The last line reads ``inference throughput: <images/s> images/s, ratio R`` (the consumer's
figure; R = consumer / tight loop).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from google.protobuf.message import Message
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT / "tests" / "data" / "camtrap-dp" / "example" / "media"
SIZE = 640

from tests.support.yolo_models import build_yolov8, export_onnx, write_yolo_bundle  # noqa: E402
from wildlens.common.events import Envelope, new_envelope, unpack  # noqa: E402
from wildlens.common.events.v1.media_pb2 import MediaAnalyzed, MediaKind, MediaRecorded  # noqa: E402
from wildlens.common.imaging import preprocess  # noqa: E402
from wildlens.common.service.context import ServiceContext  # noqa: E402
from wildlens.common.settings import Settings, compose_settings  # noqa: E402
from wildlens.common.storage import LocalStore  # noqa: E402
from wildlens.inference.analysis.runner import Analyzer  # noqa: E402
from wildlens.inference.models.cache import BundleCache  # noqa: E402
from wildlens.inference.models.detector import Detector  # noqa: E402
from wildlens.inference.models.providers import create_session  # noqa: E402
from wildlens.inference.models.serving import ModelServing  # noqa: E402
from wildlens.inference.settings import InferenceSettings  # noqa: E402


@dataclass
class BenchContext:
    """The part of ``ServiceContext`` the analyzer uses: settings, the store and publish."""

    settings: Settings
    store: LocalStore
    published: list[Envelope] = field(default_factory=list)

    async def publish(self, payloads: Sequence[Message]) -> None:
        self.published.extend(new_envelope(p, producer="bench") for p in payloads)


def build_bundle(folder: Path) -> Path:
    model = build_yolov8("yolov8n.yaml")
    return write_yolo_bundle(
        folder, export_onnx(model, SIZE), decoder="yolov8", size=SIZE, name="yolov8n-random"
    )


def recorded(keys: Sequence[str], project: str) -> list[Envelope]:
    return [
        new_envelope(
            MediaRecorded(
                media_id=str(uuid.uuid4()),
                project_id=project,
                object_key=key,
                kind=MediaKind.MEDIA_KIND_IMAGE,
            ),
            producer="bench",
        )
        for key in keys
    ]


async def run_consumer(
    analyzer: Analyzer, ctx: BenchContext, keys: list[str], batches: int, batch_size: int
) -> float:
    """Images/s for ``batches`` bus batches of ``batch_size`` through ``Analyzer``, decoded as
    the ``media.recorded`` consumer decodes them,
    with at most ``prefetch`` messages unacknowledged at once, as the bus hands them out."""
    project = str(uuid.uuid4())
    deliveries = [
        recorded([keys[(b * batch_size + i) % len(keys)] for i in range(batch_size)], project)
        for b in range(batches)
    ]
    before = len(ctx.published)
    handlers = asyncio.Semaphore(max(1, ctx.settings.broker.prefetch // batch_size))

    async def deliver(envelopes: list[Envelope]) -> None:
        async with handlers:
            await analyzer.analyze_recorded([unpack(e, MediaRecorded) for e in envelopes])

    started = time.perf_counter()
    await asyncio.gather(*(deliver(envelopes) for envelopes in deliveries))
    elapsed = time.perf_counter() - started
    analyzed = len(ctx.published) - before
    if analyzed != batches * batch_size:
        raise RuntimeError(f"expected {batches * batch_size} results, got {analyzed}")
    return analyzed / elapsed


def run_tight(
    session: Any,
    bundle_input: Any,
    blobs: list[bytes],
    batches: int,
    batch_size: int,
    stages: dict[str, float],
) -> float:
    """Images/s for decode + letterbox + ``session.run`` on the same images and batch size.

    Adds the seconds spent in each stage to ``stages``.
    """
    name = session.get_inputs()[0].name
    started = time.perf_counter()
    for b in range(batches):
        tensors = []
        for i in range(batch_size):
            t0 = time.perf_counter()
            image = Image.open(io.BytesIO(blobs[(b * batch_size + i) % len(blobs)]))
            image.load()
            t1 = time.perf_counter()
            tensor, _ = preprocess(image, bundle_input)
            tensors.append(tensor)
            stages["decode"] += t1 - t0
            stages["letterbox"] += time.perf_counter() - t1
        t2 = time.perf_counter()
        session.run(None, {name: np.stack(tensors)})
        stages["run"] += time.perf_counter() - t2
    return batches * batch_size / (time.perf_counter() - started)


def consumer_stages(published: Sequence[Envelope]) -> dict[str, float]:
    """Mean per-image milliseconds the analyzer itself recorded in ``media.analyzed``."""
    totals: dict[str, float] = {}
    for envelope in published:
        for stage, ms in unpack(envelope, MediaAnalyzed).timings_ms.items():
            totals[stage] = totals.get(stage, 0.0) + ms
    return {stage: total / max(len(published), 1) for stage, total in totals.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batches", type=int, default=6, help="bus batches per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    paths = sorted(MEDIA.glob("*.JPG"))
    blobs = [p.read_bytes() for p in paths]
    with Image.open(io.BytesIO(blobs[0])) as first:
        size = f"{first.width}x{first.height}"
    print(f"machine: {os.cpu_count()} CPUs; images: {len(blobs)} JPEGs {size}")

    with tempfile.TemporaryDirectory(prefix="wildlens-bench-") as tmp:
        tmp_path = Path(tmp)
        started = time.perf_counter()
        bundle_dir = build_bundle(tmp_path / "bundle")
        print(
            f"model: yolov8n.yaml, 3 classes, random weights, {SIZE} px, ONNX export "
            f"{time.perf_counter() - started:.1f} s"
        )

        store = LocalStore(
            tmp_path / "objects", public_url="http://127.0.0.1:0", signing_key=b"bench"
        )
        await store.start()
        keys = [f"bench/{p.name}" for p in paths]
        for key, blob in zip(keys, blobs, strict=True):
            await store.put_bytes(key, blob, "image/jpeg")

        settings = compose_settings([InferenceSettings])(
            data_dir=tmp_path, inference={"max_batch": args.batch_size}
        )
        ctx = BenchContext(settings=settings, store=store)
        detector = Detector.from_path(bundle_dir)
        detector.warm()
        serving = ModelServing(BundleCache(tmp_path / "model-cache", store))
        serving.install(detector)
        # The analyzer reads only settings, store and publish from its context.
        analyzer = Analyzer(cast(ServiceContext, ctx), serving)
        session, providers = create_session(detector.bundle.onnx_path)
        spec = detector.manifest.input
        print(f"providers: consumer {detector.providers}, tight loop {providers}")

        # Warm-up: first runs allocate ONNX Runtime's arenas and fill the page cache.
        await run_consumer(analyzer, ctx, keys, 1, args.batch_size)
        tight_stages = {"decode": 0.0, "letterbox": 0.0, "run": 0.0}
        run_tight(session, spec, blobs, 1, args.batch_size, tight_stages)
        tight_stages = dict.fromkeys(tight_stages, 0.0)
        ctx.published.clear()

        consumer_rates, tight_rates = [], []
        for n in range(args.rounds):
            consumer = await run_consumer(analyzer, ctx, keys, args.batches, args.batch_size)
            tight = run_tight(session, spec, blobs, args.batches, args.batch_size, tight_stages)
            consumer_rates.append(consumer)
            tight_rates.append(tight)
            print(
                f"round {n + 1}: consumer {consumer:.2f} images/s, tight loop {tight:.2f} images/s"
            )
        await analyzer.close()

    consumer_rate = float(np.median(consumer_rates))
    tight_rate = float(np.median(tight_rates))
    images = args.rounds * args.batches * args.batch_size
    print(
        f"consumer (median of {args.rounds} rounds, {images} images): {consumer_rate:.2f} images/s"
    )
    print(
        f"tight loop (median of {args.rounds} rounds, {images} images): {tight_rate:.2f} images/s"
    )
    # Where the time goes, per image: the analyzer's own timings (images overlap, so they sum
    # to more than the wall time; detect = waiting for a batch + the run + decoding the
    # outputs) next to the tight loop's stages.
    seen = consumer_stages(ctx.published)
    print(
        "consumer ms/image: "
        + ", ".join(f"{stage} {ms:.1f}" for stage, ms in seen.items())
        + f", wall {1000 / consumer_rate:.1f}"
    )
    print(
        "tight loop ms/image: "
        + ", ".join(f"{stage} {1000 * s / images:.1f}" for stage, s in tight_stages.items())
        + f", wall {1000 / tight_rate:.1f}"
    )
    ratio = consumer_rate / tight_rate
    print(f"inference throughput: {consumer_rate:.2f} images/s, ratio {ratio:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
