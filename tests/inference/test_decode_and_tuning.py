"""Decoding no more than the model needs, and ONNX Runtime set up for the pod it runs in."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from PIL import Image

from tests.e2e.conftest import DATA
from tests.support.heron_detector import build_heron_detector, heron_boxes
from wildlens.common.bundles import InputSpec
from wildlens.common.imaging import draft_for
from wildlens.common.service.context import ServiceContext
from wildlens.common.settings import compose_settings
from wildlens.inference.analysis.runner import Analyzer, decode_threads
from wildlens.inference.models.detector import Detector
from wildlens.inference.models.providers import SessionTuning, create_session, pod_cores
from wildlens.inference.models.serving import ModelServing
from wildlens.inference.runtime import classifier_tuning, session_tuning
from wildlens.inference.settings import InferenceSettings

HERON = DATA / "media" / sorted(heron_boxes(DATA))[0]


def _opened(path: Path) -> Image.Image:
    return Image.open(io.BytesIO(path.read_bytes()))


@pytest.mark.parametrize(
    ("side", "decoded"),
    [
        (640, (1024, 720)),  # 640x450 wanted: half scale is the smallest that holds it
        (300, (512, 360)),  # 300x211 wanted: a quarter
        (256, (256, 180)),  # 256x180 wanted: an eighth is exactly that
        (128, (256, 180)),  # 128x90 wanted: an eighth, the smallest scale JPEG offers
        (1280, (2048, 1440)),  # 1280x900: half would be too small, so the full image
    ],
)
def test_a_jpeg_is_decoded_at_the_smallest_scale_that_holds_the_model_input(
    side: int, decoded: tuple[int, int]
) -> None:
    image = _opened(HERON)

    draft_for(image, InputSpec(width=side, height=side))
    image.load()

    assert image.size == decoded


def test_other_formats_are_decoded_whole() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2048, 1440)).save(buffer, format="PNG")
    image = Image.open(buffer)

    assert not draft_for(image, InputSpec(width=128, height=128))
    image.load()
    assert image.size == (2048, 1440)


async def test_the_analyzer_reports_the_stored_size_and_the_same_boxes(tmp_path: Path) -> None:
    bundle = build_heron_detector(tmp_path / "herons", DATA, any_size=True)
    detector = Detector.from_path(bundle)
    settings = compose_settings([InferenceSettings]).model_validate({"data_dir": tmp_path})
    serving = ModelServing(cache=cast(Any, None))
    serving.install(detector)
    analyzer = Analyzer(cast(ServiceContext, SimpleNamespace(settings=settings)), serving)
    data = HERON.read_bytes()

    async def fetch() -> bytes:
        return data

    analysis = await analyzer.analyze(fetch, project_id=None)
    await analyzer.close()

    assert analysis.image.size == (256, 180)  # an eighth of the pixels' sides decoded
    assert (analysis.width, analysis.height) == (2048, 1440)  # what the result says
    with Image.open(HERON) as full:
        (whole,) = detector.detect([full])
    assert [d.category for d in analysis.detections] == [d.category for d in whole]
    for reduced, complete in zip(analysis.detections, whole, strict=True):
        assert reduced.bbox == pytest.approx(complete.bbox, abs=0.01)


def _cgroup(root: Path, **files: str) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_threads_follow_the_pods_cpu_quota(tmp_path: Path) -> None:
    unlimited = pod_cores(tmp_path / "none")

    half_core = pod_cores(_cgroup(tmp_path / "v2", **{"cpu.max": "50000 100000\n"}))
    no_quota = pod_cores(_cgroup(tmp_path / "max", **{"cpu.max": "max 100000\n"}))
    v1 = pod_cores(
        _cgroup(
            tmp_path / "v1",
            **{"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"},
        )
    )

    assert half_core == 1  # a quota under one core still gets one thread
    assert no_quota == unlimited >= 1
    assert v1 == 1
    assert SessionTuning(intra_op_threads=3).threads() == 3


def test_the_session_gets_the_settings_asked_for(tiny_detector_dir: Path) -> None:
    tuning = SessionTuning(
        graph_optimization="basic", intra_op_threads=1, memory_pattern=False, cpu_arena=False
    )

    session, _ = create_session(tiny_detector_dir / "model.onnx", preference=["cpu"], tuning=tuning)

    options = session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert not options.enable_mem_pattern
    assert not options.enable_cpu_mem_arena
    assert str(options.graph_optimization_level).endswith("ORT_ENABLE_BASIC")
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_classifier_runs_are_single_threaded_and_the_pool_has_a_thread_more_than_the_cores(
    tiny_detector_dir: Path,
) -> None:
    defaults = InferenceSettings()
    four = InferenceSettings(ort_intra_op_threads=4)
    like_the_detector = InferenceSettings(ort_intra_op_threads=4, classifier_intra_op_threads=0)

    classifier, _ = create_session(
        tiny_detector_dir / "model.onnx", preference=["cpu"], tuning=classifier_tuning(defaults)
    )
    detector, _ = create_session(
        tiny_detector_dir / "model.onnx", preference=["cpu"], tuning=session_tuning(defaults)
    )

    # Runs side by side, one per decoding thread, each on one core...
    assert classifier.get_session_options().intra_op_num_threads == 1
    # ...where the detector's one run at a time has every core the pod may use.
    assert detector.get_session_options().intra_op_num_threads == pod_cores()
    assert classifier_tuning(four).threads() == 1
    assert classifier_tuning(like_the_detector).threads() == 4
    assert classifier_tuning(InferenceSettings(classifier_intra_op_threads=2)).threads() == 2
    assert decode_threads(defaults) == pod_cores() + 1
    assert decode_threads(InferenceSettings(decode_workers=5)) == 5
