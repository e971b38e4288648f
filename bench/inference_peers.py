"""Inference next to its peers: the platform's consumer, a tight loop, and Ultralytics' own
``predict``, on the same ONNX file and the same images, in one run.

The model is Ultralytics' YOLOv8n (``yolov8n.yaml`` with the three MegaDetector classes,
random weights: nothing is downloaded) exported by Ultralytics' own exporter to ONNX at 640 px
with dynamic axes (batch, height and width), as MegaDetector v6 users export it; that one file
is the platform's bundle and what Ultralytics loads. On the ten real 2048x1440 camera-trap
JPEGs, in alternating rounds:

* consumer: the inference service's ``Analyzer`` as ``media.recorded`` deliveries reach it
  (bench/inference.py describes the set-up): the micro-batcher forms runs of at most 8;
* tight loop: the platform's own steps one after the other, nothing overlapped: decode (at
  the reduced JPEG scale the detector asks for), rectangular letterbox, ``session.run`` on a
  session made with the service's settings, in batches of 8;
* Ultralytics: ``YOLO(model.onnx).predict(paths, batch=8, device="cpu")`` with the platform's
  confidence threshold and NMS IoU, streaming its results.

    python bench/inference_peers.py [--batches 6] [--rounds 3] [--batch-size 8]
                                    [--warmup-batches 12]

The last line reads ``inference peers: consumer <images/s>, tight loop <images/s>, ultralytics
<images/s> images/s, ratio R`` where R = consumer / Ultralytics.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT / "tests" / "data" / "camtrap-dp" / "example" / "media"
SIZE = 640
LABELS = ("animal", "person", "vehicle")

from bench.inference import BenchContext, consumer_stages, run_consumer  # noqa: E402
from wildlens.common.bundles import write_bundle  # noqa: E402
from wildlens.common.service.context import ServiceContext  # noqa: E402
from wildlens.common.settings import compose_settings  # noqa: E402
from wildlens.common.storage import LocalStore  # noqa: E402
from wildlens.inference.analysis.runner import Analyzer  # noqa: E402
from wildlens.inference.models.cache import BundleCache  # noqa: E402
from wildlens.inference.models.detector import Detector  # noqa: E402
from wildlens.inference.models.providers import create_session, pod_cores  # noqa: E402
from wildlens.inference.models.serving import ModelServing  # noqa: E402
from wildlens.inference.runtime import session_tuning  # noqa: E402
from wildlens.inference.settings import InferenceSettings  # noqa: E402


def _offline_ultralytics(folder: Path) -> None:
    """Ultralytics may neither reach the network nor install packages here; its settings file
    goes to a scratch folder rather than the user's home."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ["YOLO_CONFIG_DIR"] = str(folder / "ultralytics-config")


def export_yolov8n(folder: Path) -> Path:
    """YOLOv8n with three classes, random weights, exported by Ultralytics to ONNX at 640 px
    with dynamic batch, height and width (no onnxslim pass: it would be fetched)."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import yaml_model_load

    config = yaml_model_load("yolov8n.yaml")
    config["nc"] = len(LABELS)
    config.pop("yaml_file", None)
    # The file name keeps "yolov8n": Ultralytics reads the model scale from it.
    path = folder / "yolov8n.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    model = YOLO(str(path))
    model.model.names = dict(enumerate(LABELS))  # type: ignore[union-attr]
    # A model built from a yaml is exported into the working folder.
    with contextlib.chdir(folder):
        exported = model.export(
            format="onnx", imgsz=SIZE, dynamic=True, simplify=False, batch=8, device="cpu"
        )
    return folder / exported


def write_detector_bundle(folder: Path, onnx: Path) -> Path:
    write_bundle(
        folder,
        onnx,
        {
            "name": "yolov8n-random",
            "version": "0.0.0-random",
            "kind": "detector",
            "input": {"width": SIZE, "height": SIZE, "stride": 32},
            "decoder": "yolov8",
            "labels": [{"label": label} for label in LABELS],
        },
    )
    return folder


def run_tight(
    detector: Detector,
    session: Any,
    blobs: list[bytes],
    batches: int,
    batch_size: int,
    stages: dict[str, float],
) -> float:
    """Images/s for decode (reduced JPEG scale) + rectangular letterbox + ``session.run``,
    one step after the other. Adds the seconds spent in each stage to ``stages``."""
    name = session.get_inputs()[0].name
    started = time.perf_counter()
    for b in range(batches):
        tensors = []
        for i in range(batch_size):
            t0 = time.perf_counter()
            image = Image.open(io.BytesIO(blobs[(b * batch_size + i) % len(blobs)]))
            detector.draft(image)
            image.load()
            t1 = time.perf_counter()
            tensors.append(detector.prepare(image).tensor)
            stages["decode"] += t1 - t0
            stages["letterbox"] += time.perf_counter() - t1
        t2 = time.perf_counter()
        session.run(None, {name: np.stack(tensors)})
        stages["run"] += time.perf_counter() - t2
    return batches * batch_size / (time.perf_counter() - started)


def run_ultralytics(
    model: Any, paths: Sequence[Path], batches: int, batch_size: int, threshold: float, iou: float
) -> float:
    """Images/s for Ultralytics' ``predict`` on the same images (read from their files, as its
    users run it), batch ``batch_size``, on the CPU."""
    count = batches * batch_size
    sources = [str(paths[i % len(paths)]) for i in range(count)]
    started = time.perf_counter()
    seen = 0
    for _ in model.predict(
        sources,
        batch=batch_size,
        imgsz=SIZE,
        device="cpu",
        conf=threshold,
        iou=iou,
        max_det=300,
        stream=True,
        verbose=False,
    ):
        seen += 1
    elapsed = time.perf_counter() - started
    if seen != count:
        raise RuntimeError(f"Ultralytics answered {seen} images of {count}")
    return count / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batches", type=int, default=6, help="batches of images per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup-batches", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="an inference setting for the platform, e.g. ort_spinning=true (repeatable)",
    )
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)

    paths = sorted(MEDIA.glob("*.JPG"))
    blobs = [p.read_bytes() for p in paths]
    with Image.open(io.BytesIO(blobs[0])) as first:
        size = f"{first.width}x{first.height}"
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPUs ({pod_cores()} usable), load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; images: {len(blobs)} JPEGs {size}"
    )

    with tempfile.TemporaryDirectory(prefix="wildlens-peers-") as tmp:
        tmp_path = Path(tmp)
        _offline_ultralytics(tmp_path)
        started = time.perf_counter()
        onnx = export_yolov8n(tmp_path)
        bundle_dir = write_detector_bundle(tmp_path / "bundle", onnx)
        print(
            f"model: yolov8n.yaml, 3 classes, random weights, Ultralytics ONNX export at {SIZE} "
            f"px, dynamic axes, {time.perf_counter() - started:.1f} s"
        )

        store = LocalStore(
            tmp_path / "objects", public_url="http://127.0.0.1:0", signing_key=b"bench"
        )
        await store.start()
        keys = [f"bench/{p.name}" for p in paths]
        for key, blob in zip(keys, blobs, strict=True):
            await store.put_bytes(key, blob, "image/jpeg")

        settings = compose_settings([InferenceSettings])(
            data_dir=tmp_path, inference={"max_batch": args.batch_size, **overrides}
        )
        inference = InferenceSettings.of(settings)
        tuning = session_tuning(inference)
        ctx = BenchContext(settings=settings, store=store)
        detector = Detector.from_path(bundle_dir, tuning=tuning)
        detector.warm()
        serving = ModelServing(BundleCache(tmp_path / "model-cache", store))
        serving.install(detector)
        analyzer = Analyzer(cast(ServiceContext, ctx), serving)
        # The platform's bundle file itself: the very bytes Ultralytics loads below.
        session, providers = create_session(detector.bundle.onnx_path, tuning=tuning)

        from ultralytics import YOLO

        peer = YOLO(str(detector.bundle.onnx_path), task="detect")
        threshold = detector.manifest.thresholds.default
        iou = detector.manifest.nms_iou
        letterbox = detector.prepare(Image.open(paths[0])).transform
        print(
            f"platform: providers {providers}, {tuning.threads()} intra-op threads, graph "
            f"optimisation {tuning.graph_optimization}, spinning {tuning.spinning}, input "
            f"{letterbox.input_width}x"
            f"{letterbox.input_height} (rectangular: {detector.rectangular})"
        )

        # Warm-up, one unmeasured round of the same size for each: first runs allocate ONNX
        # Runtime's arenas and fill the page cache, and Ultralytics' predict keeps speeding up
        # over its first few hundred images (one batch of warm-up left it at half its speed).
        warmup = args.warmup_batches
        await run_consumer(analyzer, ctx, keys, warmup, args.batch_size)
        tight_stages = {"decode": 0.0, "letterbox": 0.0, "run": 0.0}
        run_tight(detector, session, blobs, warmup, args.batch_size, tight_stages)
        run_ultralytics(peer, paths, warmup, args.batch_size, threshold, iou)
        tight_stages = dict.fromkeys(tight_stages, 0.0)
        ctx.published.clear()

        consumer_rates: list[float] = []
        tight_rates: list[float] = []
        peer_rates: list[float] = []
        for n in range(args.rounds):
            consumer = await run_consumer(analyzer, ctx, keys, args.batches, args.batch_size)
            tight = run_tight(detector, session, blobs, args.batches, args.batch_size, tight_stages)
            ultra = run_ultralytics(peer, paths, args.batches, args.batch_size, threshold, iou)
            consumer_rates.append(consumer)
            tight_rates.append(tight)
            peer_rates.append(ultra)
            print(
                f"round {n + 1}: consumer {consumer:.2f}, tight loop {tight:.2f}, "
                f"ultralytics {ultra:.2f} images/s"
            )
        await analyzer.close()

    consumer_rate = float(np.median(consumer_rates))
    tight_rate = float(np.median(tight_rates))
    peer_rate = float(np.median(peer_rates))
    images = args.rounds * args.batches * args.batch_size
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
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"inference peers (median of {args.rounds} rounds, {images} images each): consumer "
        f"{consumer_rate:.2f}, tight loop {tight_rate:.2f}, ultralytics {peer_rate:.2f} "
        f"images/s, ratio {consumer_rate / peer_rate:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
