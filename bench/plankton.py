"""Plankton objects: objects/s through the EcoTaxa import next to raw object-storage puts of
the same images, and objects/s through whole-vignette classification next to a tight ONNX
Runtime loop on the same model.

* import: generated plankton vignettes (``tests/support/plankton.py``: 48 px PNGs, four
  features each), written as an EcoTaxa bundle in the real layout (sample folders, TSVs with
  their type row) and zipped, go through the public API of an embedded platform (catalogue
  and ingest, SQLite, local object folder) as an import job: the archive PUT to its signed
  URL, the job started, the job polled until it has stored every image and written every
  medium, object row, feature and observation. In the same run, the same images are PUT one
  by one into the same object store (``put_bytes``): the baseline. Rounds alternate, each
  import into a project of its own.
* classification: a combined classifier (resnet18 at 32 px trained for a few epochs on the
  generated objects, its random forest over probabilities and features in ``features.onnx``)
  classifies single objects through the inference service's ``Analyzer``: ``media.recorded``
  envelopes of single objects with their features, in bus batches of 8, as the consumer
  receives them (fetch from the store, decode, crop, classify, combine, decide), with the
  service's default settings (a decoding thread more than the cores, one operator thread per
  classifier run). The tight loop: decode + ``preprocess`` + the image model's
  ``session.run`` (one operator thread per core) + the features model's ``session.run`` on
  the same objects and batch size. Both sides are warmed up for a second,
  then run in alternating rounds (consumer first, then tight loop first) of as many batches
  as keep the slower side busy ``--seconds`` (3) a round; each round's figures and ratio are
  printed, and the ratio reported is the median of the rounds' ratios.

    python bench/plankton.py [--objects 300] [--rounds 2] [--classification-rounds 5]
                             [--seconds 3] [--classification-only]

The last line reads ``plankton import throughput: <objects/s> objects/s, ratio R`` (R =
import / raw puts); the line before it ``plankton classification throughput: <objects/s>
objects/s, ratio R`` (R = consumer / tight loop).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.inference import BenchContext  # noqa: E402
from tests.support.api import bearer, put_signed  # noqa: E402
from tests.support.ecotaxa import EcoRow, bundle_zip, write_bundle  # noqa: E402
from tests.support.plankton import PLANKTON_CLASSES, plankton_object  # noqa: E402
from tests.support.platform import admin_token, embedded_settings, running  # noqa: E402
from wildlens.common.bundles import FEATURES_FILE, Bundle  # noqa: E402
from wildlens.common.events import Envelope, new_envelope, unpack  # noqa: E402
from wildlens.common.events.v1.media_pb2 import MediaKind, MediaRecorded  # noqa: E402
from wildlens.common.imaging import preprocess  # noqa: E402
from wildlens.common.service.context import ServiceContext  # noqa: E402
from wildlens.common.settings import compose_settings  # noqa: E402
from wildlens.common.storage import LocalStore  # noqa: E402
from wildlens.inference.analysis.runner import Analyzer  # noqa: E402
from wildlens.inference.classification.classifier import Classifier  # noqa: E402
from wildlens.inference.classification.stage import ClassificationStage  # noqa: E402
from wildlens.inference.models.cache import BundleCache  # noqa: E402
from wildlens.inference.models.providers import create_session  # noqa: E402
from wildlens.inference.models.serving import ModelServing  # noqa: E402
from wildlens.inference.runtime import classifier_tuning  # noqa: E402
from wildlens.inference.settings import InferenceSettings  # noqa: E402
from wildlens.inference.taxonomy.cache import TaxonomyCache  # noqa: E402

NAMES = list(PLANKTON_CLASSES)


def objects(count: int, prefix: str) -> list[EcoRow]:
    """``count`` unsorted objects of the four classes, in ten samples."""
    rows = []
    for n in range(count):
        row = EcoRow(f"{prefix}_{n:05d}", "", 0, sample=f"{prefix}_s{n % 10}")
        row.drawn = plankton_object(NAMES[n % len(NAMES)], n)
        rows.append(row)
    return rows


async def import_round(wl: Any, token: str, rows: list[EcoRow], scratch: Path) -> float:
    """Objects/s through one import job, from the job's creation to its end."""
    files = write_bundle(scratch, rows)
    archive = bundle_zip(files)
    project = await wl.client.post(
        "/v1/projects", json={"name": f"bench {uuid.uuid4().hex[:6]}"}, headers=bearer(token)
    )
    pid = project.json()["id"]
    jobs = f"/v1/projects/{pid}/import-jobs"
    started = time.perf_counter()
    job = (
        await wl.client.post(
            jobs,
            json={"format": "ecotaxa", "files": [{"name": "b.zip", "size": len(archive)}]},
            headers=bearer(token),
        )
    ).json()
    await put_signed(wl.client, wl.settings.public_url, job["files"][0]["upload_url"], archive)
    await wl.client.post(f"{jobs}/{job['id']}/start", headers=bearer(token))
    while True:
        found = (await wl.client.get(f"{jobs}/{job['id']}", headers=bearer(token))).json()
        if found["status"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    if found["status"] != "succeeded" or found["summary"]["created"]["media"] != len(rows):
        raise RuntimeError(f"import did not store every object: {found}")
    return len(rows) / elapsed


async def settled(wl: Any, token: str) -> None:
    """Returns once no project's object waits for its display copy."""
    projects = (await wl.client.get("/v1/projects?limit=100", headers=bearer(token))).json()
    for project in projects["items"]:
        path = f"/v1/projects/{project['id']}/media?limit=1000"
        while True:
            media = (await wl.client.get(path, headers=bearer(token))).json()["items"]
            if not any(m["url_withheld"] == "display_copy_pending" for m in media):
                break
            await asyncio.sleep(0.1)


async def raw_round(store: Any, rows: list[EcoRow]) -> float:
    """Objects/s for PUTs of the same images into the same store, one after another as the
    import stores them."""
    started = time.perf_counter()
    for row in rows:
        assert row.image is not None
        await store.put_bytes(f"bench-raw/{uuid.uuid4().hex}.png", row.image, "image/png")
    return len(rows) / (time.perf_counter() - started)


async def bench_import(count: int, rounds: int, tmp: Path) -> tuple[float, float]:
    # The platform's request logs would bury the figures.
    settings = embedded_settings(tmp / "platform").model_copy(update={"log_level": "WARNING"})
    imports, raws = [], []
    async with running(settings, ["catalogue", "ingest"]) as wl:
        token = admin_token(settings)
        store = wl.platform.store
        # Warm-up: the first job and the first puts pay for imports, connections, folders.
        warm = objects(20, "warm")
        await import_round(wl, token, warm, tmp / "warm")
        await settled(wl, token)
        await raw_round(store, warm)
        for n in range(rounds):
            rows = objects(count, f"r{n}")
            imported = await import_round(wl, token, rows, tmp / f"round-{n}")
            # Ingest makes each object's display copy after the import: the raw puts run once
            # it is done, on a store nothing else writes to.
            await settled(wl, token)
            raw = await raw_round(store, rows)
            imports.append(imported)
            raws.append(raw)
            print(f"round {n + 1}: import {imported:.1f} objects/s, raw puts {raw:.1f} objects/s")
    return float(np.median(imports)), float(np.median(raws))


def train_combined(folder: Path) -> Bundle:
    """A combined bundle trained on generated objects (seconds on a CPU)."""
    import torch

    from wildlens.training.engine import Sample, Trainer, TrainingConfig, export_bundle
    from wildlens.training.features import Split, add_features_model, fit_and_compare, forest_onnx

    torch.set_num_threads(1)
    rows = []
    for n in range(160):
        name = NAMES[n % len(NAMES)]
        png, features = plankton_object(name, 500_000 + n)
        rows.append((png, n % len(NAMES), "test" if n >= 120 else "train", features))

    def loader(data: bytes) -> Any:
        return lambda: data

    samples = [Sample(crop=loader(png), label=c, split=s) for png, c, s, _ in rows]
    config = TrainingConfig(
        architecture="resnet18", input_size=32, epochs=3, batch_size=16, patience=50
    )
    result = Trainer(config, len(NAMES), samples).fit()
    exported = export_bundle(
        result.model,
        folder,
        [s for s in samples if s.split == "test"],
        name="plankton-bench",
        version="1",
        labels=NAMES,
        norm=config.normalisation,
    )
    image = Classifier(exported.bundle)
    probabilities = image.classify([Image.open(io.BytesIO(r[0])).convert("RGB") for r in rows])

    def split(name: str) -> Split:
        chosen = [n for n, r in enumerate(rows) if r[2] == name]
        return Split(
            probabilities[chosen], [rows[n][3] for n in chosen], [rows[n][1] for n in chosen]
        )

    fitted = fit_and_compare(NAMES, split("train"), split("test"), seed=0)
    onnx, _ = forest_onnx(fitted.combined_model, fitted.combined_test_inputs)
    return add_features_model(folder, onnx, fitted.table)


def recorded(keys: Sequence[str], features: Sequence[dict[str, float]]) -> list[Envelope]:
    return [
        new_envelope(
            MediaRecorded(
                media_id=str(uuid.uuid4()),
                object_key=key,
                kind=MediaKind.MEDIA_KIND_IMAGE,
                single_object=True,
                features=found,
            ),
            producer="bench",
        )
        for key, found in zip(keys, features, strict=True)
    ]


async def run_consumer(
    analyzer: Analyzer,
    ctx: BenchContext,
    objects_: list[tuple[str, dict[str, float]]],
    batches: int,
    batch_size: int,
) -> float:
    deliveries = []
    for b in range(batches):
        chosen = [objects_[(b * batch_size + i) % len(objects_)] for i in range(batch_size)]
        deliveries.append(recorded([k for k, _ in chosen], [f for _, f in chosen]))
    before = len(ctx.published)
    handlers = asyncio.Semaphore(max(1, ctx.settings.broker.prefetch // batch_size))

    async def deliver(envelopes: list[Envelope]) -> None:
        async with handlers:
            await analyzer.analyze_recorded([unpack(e, MediaRecorded) for e in envelopes])

    started = time.perf_counter()
    await asyncio.gather(*(deliver(envelopes) for envelopes in deliveries))
    elapsed = time.perf_counter() - started
    if len(ctx.published) - before != batches * batch_size:
        raise RuntimeError("not every object was analysed")
    return batches * batch_size / elapsed


def run_tight(
    classifier: Classifier,
    blobs: list[tuple[bytes, dict[str, float]]],
    batches: int,
    batch_size: int,
) -> float:
    """Decode + preprocess + both sessions, same objects and batch size."""
    import onnxruntime as ort

    from wildlens.common.bundles import as_probabilities

    session, _ = create_session(classifier.bundle.onnx_path)
    trees = ort.InferenceSession(
        str(classifier.bundle.root / FEATURES_FILE), providers=["CPUExecutionProvider"]
    )
    spec = classifier.manifest.input
    table = classifier.manifest.features
    assert table is not None
    name, tree_name = session.get_inputs()[0].name, trees.get_inputs()[0].name
    started = time.perf_counter()
    for b in range(batches):
        chosen = [blobs[(b * batch_size + i) % len(blobs)] for i in range(batch_size)]
        tensors = []
        for data, _ in chosen:
            image = Image.open(io.BytesIO(data)).convert("RGB")
            tensors.append(preprocess(image, spec)[0])
        scores = session.run(None, {name: np.stack(tensors)})[0]
        probabilities = as_probabilities(scores, classifier.manifest.temperature)
        features = np.asarray(
            [
                [f.get(n, v) for n, v in zip(table.names, table.fill, strict=True)]
                for _, f in chosen
            ],
            dtype=np.float32,
        )
        trees.run(
            None, {tree_name: np.concatenate([probabilities.astype(np.float32), features], 1)}
        )
    return batches * batch_size / (time.perf_counter() - started)


async def bench_classification(
    rounds: int, batches: int, batch_size: int, seconds: float, tmp: Path
) -> tuple[float, float, float]:
    """The medians of the consumer's and the tight loop's objects/s over alternating rounds,
    and the median of the rounds' ratios."""
    settings = compose_settings([InferenceSettings])(
        data_dir=tmp, inference={"max_batch": batch_size}
    )
    started = time.perf_counter()
    # With the session settings the service gives a classifier (the tight loop makes its own
    # session, one operator thread per core, as a program running one batch after another
    # would).
    classifier = Classifier(
        train_combined(tmp / "bundle"), tuning=classifier_tuning(InferenceSettings.of(settings))
    )
    classifier.load()
    made = time.perf_counter() - started
    print(f"model: combined resnet18 32 px + random forest, made in {made:.1f} s")
    store = LocalStore(tmp / "objects", public_url="http://127.0.0.1:0", signing_key=b"bench")
    await store.start()
    blobs = []
    keyed = []
    for n in range(64):
        png, features = plankton_object(NAMES[n % len(NAMES)], 700_000 + n)
        key = f"bench/{n}.png"
        await store.put_bytes(key, png, "image/png")
        blobs.append((png, features))
        keyed.append((key, features))
    ctx = BenchContext(settings=settings, store=store)
    serving = ModelServing(BundleCache(tmp / "model-cache", store))
    analyzer = Analyzer(cast(ServiceContext, ctx), serving)
    # Objects sent outside any project: the bundle's names alone, no taxonomy to fetch.
    analyzer.classification = ClassificationStage(
        lambda _project: classifier, TaxonomyCache(cast(Any, None))
    )
    # Warm-up for both sides (the sessions' first runs, the store's folders, the thread
    # pools), then as many batches as fill ``seconds`` a round on the slower side: a round
    # of a few batches measures the scheduler more than the work.
    warm_until = time.perf_counter() + 1.0
    while time.perf_counter() < warm_until:
        slow = await run_consumer(analyzer, ctx, keyed, 8, batch_size)
        run_tight(classifier, blobs, 8, batch_size)
    batches = max(batches, math.ceil(seconds * slow / batch_size))
    print(f"rounds of {batches} batches of {batch_size} ({batches * batch_size} objects)")
    consumers, tights, ratios = [], [], []
    for n in range(rounds):
        # Alternating which side goes first: neither always runs on a cooler machine.
        if n % 2 == 0:
            consumer = await run_consumer(analyzer, ctx, keyed, batches, batch_size)
            tight = run_tight(classifier, blobs, batches, batch_size)
        else:
            tight = run_tight(classifier, blobs, batches, batch_size)
            consumer = await run_consumer(analyzer, ctx, keyed, batches, batch_size)
        consumers.append(consumer)
        tights.append(tight)
        ratios.append(consumer / tight)
        print(
            f"round {n + 1}: consumer {consumer:.1f} objects/s, tight loop {tight:.1f} "
            f"objects/s, ratio {consumer / tight:.2f}"
        )
    await analyzer.close()
    return float(np.median(consumers)), float(np.median(tights)), float(np.median(ratios))


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--objects", type=int, default=300, help="objects per import round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--batches", type=int, default=30, help="at least this many bus batches per round"
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--classification-rounds", type=int, default=5, help="alternating classification rounds"
    )
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="about this long per classification round"
    )
    parser.add_argument(
        "--classification-only", action="store_true", help="skip the import (for profiling)"
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)
    print(f"machine: {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="wildlens-bench-") as folder:
        tmp = Path(folder)
        consumer, tight, ratio = await bench_classification(
            args.classification_rounds,
            args.batches,
            args.batch_size,
            args.seconds,
            tmp / "classification",
        )
        print(
            f"classification consumer (median): {consumer:.1f} objects/s; tight loop "
            f"{tight:.1f}; ratio (median of rounds) {ratio:.2f}"
        )
        if args.classification_only:
            return
        imported, raw = await bench_import(args.objects, args.rounds, tmp / "import")
    print(f"import (median): {imported:.1f} objects/s; raw puts {raw:.1f} objects/s")
    print(f"plankton classification throughput: {consumer:.1f} objects/s, ratio {ratio:.2f}")
    print(f"plankton import throughput: {imported:.1f} objects/s, ratio {imported / raw:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
