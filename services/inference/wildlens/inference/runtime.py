"""What an inference replica keeps while it runs: the models it serves, the analyzer (decode
pool and micro-batcher) every image goes through, the species stage, the listener that swaps
promoted models in, the backfiller, and the background load of the registry's production
models."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

from wildlens.common.service import ServiceContext
from wildlens.inference.analysis.backfill import Backfiller
from wildlens.inference.analysis.runner import Analyzer
from wildlens.inference.classification.classifier import Classifier
from wildlens.inference.classification.stage import ClassificationStage
from wildlens.inference.models.cache import BundleCache
from wildlens.inference.models.detector import Detector
from wildlens.inference.models.promotion import PromotionListener
from wildlens.inference.models.providers import SessionTuning
from wildlens.inference.models.serving import ModelServing
from wildlens.inference.settings import InferenceSettings

__all__ = ["InferenceRuntime", "classifier_tuning", "session_tuning"]


@dataclass
class InferenceRuntime:
    serving: ModelServing
    analyzer: Analyzer
    classification: ClassificationStage
    promotions: PromotionListener
    backfiller: Backfiller
    # Whether ``media.recorded`` is subscribed: from the first moment a detector serves.
    consuming: bool = False
    # Training may start after us (another pod, or later in this process): its production
    # models are asked for in the background, retried for a while, so start-up is not held up.
    registry_load: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, ctx: ServiceContext, on_serving: Callable[[], Awaitable[None]]
    ) -> InferenceRuntime:
        """Load the configured models (a bad bundle stops the start-up with its reason:
        serving nothing silently is worse); ``on_serving`` is called whenever a promoted model
        starts serving."""
        settings = InferenceSettings.of(ctx.settings)
        cache = BundleCache(
            settings.model_cache or ctx.settings.data_dir / "model-cache", ctx.store
        )
        tuning = session_tuning(settings)
        # Promoted models are built with the same session settings as the configured ones.
        detector_factory = partial(
            Detector, tuning=tuning, rectangular=settings.rectangular_letterbox
        )
        serving = ModelServing(cache, {"detector": detector_factory})
        if settings.detector is not None:
            detector = await asyncio.to_thread(
                partial(
                    Detector.from_path,
                    settings.detector,
                    tuning=tuning,
                    rectangular=settings.rectangular_letterbox,
                )
            )
            await asyncio.to_thread(detector.warm)
            serving.install(detector)
        # The classifier loads before the analyzer is built: a bad one then stops the start-up
        # with nothing to close (the analyzer owns a thread pool).
        stage = await _classification(ctx, serving)
        analyzer = Analyzer(ctx, serving)
        analyzer.classification = stage
        return cls(
            serving,
            analyzer,
            stage,
            PromotionListener(ctx, serving, on_serving),
            Backfiller(ctx, analyzer, serving),
        )

    def load_production(self) -> None:
        """Ask the registry for its production models, in the background."""
        self.registry_load = asyncio.create_task(
            self.promotions.load_production(), name="inference-production-models"
        )

    async def close(self) -> None:
        task, self.registry_load = self.registry_load, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await self.analyzer.close()


def session_tuning(settings: InferenceSettings) -> SessionTuning:
    """The ONNX Runtime session settings the service's settings ask for."""
    return SessionTuning(
        graph_optimization=settings.ort_graph_optimization,
        intra_op_threads=settings.ort_intra_op_threads or None,
        memory_pattern=settings.ort_memory_pattern,
        cpu_arena=settings.ort_cpu_arena,
        spinning=settings.ort_spinning,
    )


def classifier_tuning(settings: InferenceSettings) -> SessionTuning:
    """A classifier's session settings: the detector's, with its own operator threads
    (``classifier_intra_op_threads``)."""
    return replace(
        session_tuning(settings),
        intra_op_threads=settings.classifier_intra_op_threads
        or settings.ort_intra_op_threads
        or None,
    )


async def _classification(ctx: ServiceContext, serving: ModelServing) -> ClassificationStage:
    """Species after detection: the configured classifier (promoted ones replace it), each
    project's taxonomy from the catalogue, re-read when ``taxonomy.changed`` names it."""
    settings = InferenceSettings.of(ctx.settings)
    tuning = classifier_tuning(settings)
    serving.register_kind("classifier", partial(Classifier, tuning=tuning))
    path = settings.classifier
    if path is not None:
        classifier = await asyncio.to_thread(partial(Classifier.from_path, path, tuning=tuning))
        await asyncio.to_thread(classifier.load)
        serving.install(classifier)
    return ClassificationStage.for_service(ctx, serving)
