"""The micro-batcher and the analyzer's bounded prefetch."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from PIL import Image
from prometheus_client import REGISTRY

from wildlens.common.events.v1.media_pb2 import MediaKind, MediaRecorded
from wildlens.common.service.context import ServiceContext
from wildlens.common.settings import compose_settings
from wildlens.common.storage import ObjectNotFound
from wildlens.inference.analysis.batcher import MicroBatcher
from wildlens.inference.analysis.runner import Analyzer, Undecodable
from wildlens.inference.models.detector import Detector
from wildlens.inference.models.serving import ModelServing
from wildlens.inference.settings import InferenceSettings


class Recorder:
    """A model run that doubles its inputs and remembers every batch it was given."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, model: str, items: Sequence[int]) -> list[int]:
        time.sleep(self.delay)
        with self.lock:
            self.batches.append((model, list(items)))
        if -1 in items:
            raise ValueError("the model cannot take -1")
        return [2 * i for i in items]


async def test_concurrent_submissions_share_runs_up_to_the_size_limit() -> None:
    run = Recorder(delay=0.02)
    batcher: MicroBatcher[str, int, int] = MicroBatcher(run, max_batch=8, max_wait=0.05)
    results = await asyncio.gather(*(batcher.submit("m", i) for i in range(40)))
    await batcher.close()

    assert results == [2 * i for i in range(40)]  # every caller gets its own result
    sizes = [len(items) for _, items in run.batches]
    assert max(sizes) == 8
    assert len(run.batches) == 5
    assert sorted(i for _, items in run.batches for i in items) == list(range(40))


async def test_a_lone_item_runs_after_the_wait_not_never() -> None:
    run = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(run, max_batch=64, max_wait=0.02)
    # Alone, it still runs: answered (well within the bound), in a batch of its own.
    assert await asyncio.wait_for(batcher.submit("m", 21), timeout=5) == 42
    await batcher.close()
    assert run.batches == [("m", [21])]


async def test_items_for_another_model_never_join_the_batch() -> None:
    run = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(run, max_batch=16, max_wait=0.05)
    submissions = [batcher.submit("old", i) for i in range(3)]
    submissions += [batcher.submit("new", i) for i in range(3, 6)]
    submissions += [batcher.submit("old", 6)]
    assert await asyncio.gather(*submissions) == [0, 2, 4, 6, 8, 10, 12]
    await batcher.close()
    assert run.batches == [("old", [0, 1, 2]), ("new", [3, 4, 5]), ("old", [6])]


async def test_a_failing_run_fails_its_own_callers_only() -> None:
    run = Recorder()
    batcher: MicroBatcher[str, int, int] = MicroBatcher(run, max_batch=4, max_wait=0.01)
    bad = await asyncio.gather(
        batcher.submit("m", 1), batcher.submit("m", -1), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in bad)
    assert await batcher.submit("m", 5) == 10
    await batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.submit("m", 1)


def _analyzer(tmp_path: Path, detector: Detector, **inference: Any) -> Analyzer:
    settings = compose_settings([InferenceSettings]).model_validate(
        {"data_dir": tmp_path, "inference": inference}
    )
    serving = ModelServing(cache=cast(Any, None))
    serving.install(detector)
    # The analyzer reads only the settings from its context when given its images directly.
    return Analyzer(cast(ServiceContext, SimpleNamespace(settings=settings)), serving)


def _jpeg(seed: int) -> bytes:
    from tests.support.tiny_models import generate_scene

    buffer = io.BytesIO()
    generate_scene(320, 240, (0.2, 0.3, 0.4, 0.4), seed=seed).save(buffer, format="JPEG")
    return buffer.getvalue()


async def test_a_backlog_keeps_at_most_prefetch_images_in_flight(
    tmp_path: Path, tiny_detector_dir: Path
) -> None:
    detector = Detector.from_path(tiny_detector_dir)
    analyzer = _analyzer(tmp_path, detector, prefetch=6, max_batch=4, max_wait_ms=5)
    blob = _jpeg(1)
    in_flight = 0
    most = 0

    async def fetch() -> bytes:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.001)
        return blob

    async def one() -> int:
        nonlocal in_flight
        try:
            analysis = await analyzer.analyze(fetch, project_id=None)
        finally:
            in_flight -= 1
        return len(analysis.detections)

    found = await asyncio.gather(*(one() for _ in range(60)))
    await analyzer.close()
    assert all(n >= 1 for n in found)  # the rectangle is found in each copy
    assert 1 < most <= 6  # parallel, yet never more than the prefetch bound


async def test_an_undecodable_image_is_reported_not_run(
    tmp_path: Path, tiny_detector_dir: Path
) -> None:
    analyzer = _analyzer(tmp_path, Detector.from_path(tiny_detector_dir))

    async def fetch() -> bytes:
        return b"GIF89a not really"

    with pytest.raises(Undecodable, match="could not be decoded"):
        await analyzer.analyze(fetch, project_id=None)
    await analyzer.close()


async def objects_analyzer(tmp_path: Path) -> Analyzer:
    """An analyzer over a local store holding ``objects/good.png`` (30x20, grey) and
    ``objects/bad.png`` (no image)."""
    from wildlens.common.storage import LocalStore

    store = LocalStore(tmp_path / "objects", public_url="http://127.0.0.1:0", signing_key=b"k")
    await store.start()
    buffer = io.BytesIO()
    Image.new("L", (30, 20), 90).save(buffer, format="PNG")
    await store.put_bytes("objects/good.png", buffer.getvalue(), "image/png")
    await store.put_bytes("objects/bad.png", b"GIF89a not really", "image/png")
    settings = compose_settings([InferenceSettings]).model_validate({"data_dir": tmp_path})
    return Analyzer(
        cast(ServiceContext, SimpleNamespace(settings=settings, store=store)),
        ModelServing(cache=cast(Any, None)),
    )


def single_objects(keys: dict[str, str]) -> list[MediaRecorded]:
    return [
        MediaRecorded(
            media_id=media_id,
            object_key=key,
            kind=MediaKind.MEDIA_KIND_IMAGE,
            single_object=True,
        )
        for media_id, key in keys.items()
    ]


def objects_counted(outcome: str) -> float:
    labels = {"source": "object", "outcome": outcome}
    return REGISTRY.get_sample_value("wildlens_inference_images_total", labels) or 0.0


async def test_a_batch_of_objects_reports_the_undecodable_one_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    analyzer = await objects_analyzer(tmp_path)
    events = single_objects(
        {"bad": "objects/bad.png", "good": "objects/good.png", "good-again": "objects/good.png"}
    )
    ok, undecodable = objects_counted("ok"), objects_counted("undecodable")
    results = await analyzer.analyze_objects(events)
    await analyzer.close()

    assert [r.media_id for r in results] == ["bad", "good", "good-again"]
    assert "could not be decoded" in results[0].failure
    assert not results[0].detections
    for found in results[1:]:
        assert (found.image_width, found.image_height) == (30, 20)
        assert [d.bbox.width for d in found.detections] == [1.0]
        assert set(found.timings_ms) == {"fetch", "decode"}
        assert found.detector.name == "whole-object"
        assert found.analyzed_at.seconds > 0
    assert results[0].analyzed_at.seconds > 0
    assert objects_counted("ok") - ok == 2
    assert objects_counted("undecodable") - undecodable == 1


async def test_a_batch_of_objects_with_one_missing_fails_whole_to_be_delivered_again(
    tmp_path: Path,
) -> None:
    analyzer = await objects_analyzer(tmp_path)
    events = single_objects({"good": "objects/good.png", "gone": "objects/gone.png"})

    with pytest.raises(ObjectNotFound):
        await analyzer.analyze_objects(events)
    await analyzer.close()
