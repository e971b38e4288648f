"""The inference service as the platform runs it.

At start-up it serves the detector configured in ``WILDLENS_INFERENCE__DETECTOR`` (a bundle
folder), then asks the training registry for the models in production and swaps those in, and
hears every later promotion (``model.promoted``, broadcast). It consumes ``media.recorded`` once
a detector serves, and ``inference.requested`` (backfills) always.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import APIRouter

from wildlens.common.service import ServiceContext, ServiceSpec, SettingOption
from wildlens.inference.settings import InferenceSettings

if TYPE_CHECKING:
    from wildlens.inference.analysis.runner import Analyzer
    from wildlens.inference.models.serving import ModelServing

log = structlog.get_logger(__name__)

NO_DETECTOR = (
    "no detector configured: media stay 'recorded'. Point WILDLENS_INFERENCE__DETECTOR "
    "(or `wildlens up --detector PATH`) at a model bundle, or promote one"
)


def _routers() -> list[APIRouter]:
    from wildlens.inference.api.backfills import router as backfills
    from wildlens.inference.api.predict import router as predict

    return [backfills, predict]


async def _start(ctx: ServiceContext) -> None:
    from wildlens.inference.analysis.backfill import Backfiller
    from wildlens.inference.analysis.runner import Analyzer
    from wildlens.inference.models.cache import BundleCache
    from wildlens.inference.models.detector import Detector
    from wildlens.inference.models.promotion import PromotionListener
    from wildlens.inference.models.serving import ModelServing

    settings = InferenceSettings.of(ctx.settings)
    cache = BundleCache(settings.model_cache or ctx.settings.data_dir / "model-cache", ctx.store)
    serving = ModelServing(cache)
    if settings.detector is not None:
        # A bad bundle stops the start-up with its reason: serving nothing silently is worse.
        detector = await asyncio.to_thread(Detector.from_path, settings.detector)
        await asyncio.to_thread(detector.warm)
        serving.install(detector)
    analyzer = Analyzer(ctx, serving)
    await _classification(ctx, serving, analyzer)
    ctx.state.update(serving=serving, analyzer=analyzer)

    async def consume_when_serving() -> None:
        # Without a detector nothing consumes media.recorded and media stay 'recorded' (a
        # durable queue declared earlier keeps what arrives meanwhile; else a backfill
        # analyses them); the first detector to serve starts the consumer.
        if ctx.state.get("consuming") or not serving.serves("detector"):
            return
        ctx.state["consuming"] = True
        ctx.consume_batches("media.recorded", analyzer.handle, batch_size=settings.max_batch)
        log.info("inference.consuming", models=serving.describe())

    listener = PromotionListener(ctx, serving, consume_when_serving)
    ctx.consume_batches("model.promoted", listener.handle, broadcast=True)
    ctx.consume_batches("inference.requested", Backfiller(ctx, analyzer, serving).handle)
    await consume_when_serving()
    # Training may start after us (another pod, or later in this process): asked in the
    # background, retried for a while, so start-up is not held up.
    ctx.state["registry_load"] = asyncio.create_task(
        listener.load_production(), name="inference-production-models"
    )
    if serving.detector() is None:
        log.warning("inference.no_detector", detail=NO_DETECTOR)


async def _classification(ctx: ServiceContext, serving: ModelServing, analyzer: Analyzer) -> None:
    """Species after detection: the configured classifier (promoted ones replace it), each
    project's taxonomy from the catalogue, re-read when ``taxonomy.changed`` names it."""
    from wildlens.inference.classification.classifier import Classifier
    from wildlens.inference.classification.stage import ClassificationStage

    serving.register_kind("classifier", Classifier)
    path = InferenceSettings.of(ctx.settings).classifier
    if path is not None:
        classifier = await asyncio.to_thread(Classifier.from_path, path)
        await asyncio.to_thread(classifier.load)
        serving.install(classifier)
    stage = ClassificationStage.for_service(ctx, serving)
    stage.subscribe(ctx)
    analyzer.classification = stage


async def _stop(ctx: ServiceContext) -> None:
    task = ctx.state.pop("registry_load", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    analyzer = ctx.state.pop("analyzer", None)
    if analyzer is not None:
        await analyzer.close()


async def _readiness(ctx: ServiceContext) -> dict[str, Any]:
    serving = ctx.state.get("serving")
    models = serving.describe() if serving is not None else []
    global_detector = next(
        (m for m in models if m["kind"] == "detector" and m["scope"] == "global"), None
    )
    body: dict[str, Any] = {"detector": global_detector, "models": models}
    if not any(m["kind"] == "detector" for m in models):
        body["detail"] = NO_DETECTOR
    return body


def service() -> ServiceSpec:
    return ServiceSpec(
        name="inference",
        routers=_routers,
        start=_start,
        stop=_stop,
        readiness=_readiness,
        settings=InferenceSettings,
        up_options=(
            SettingOption("detector", "A detector model bundle (folder with model.onnx)."),
            SettingOption(
                "classifier", "A species classifier bundle, run on the detector's animal crops."
            ),
        ),
        order=30,
    )
