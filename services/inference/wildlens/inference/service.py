"""The inference service as the platform runs it.

At start-up it serves the detector configured in ``WILDLENS_INFERENCE__DETECTOR`` (a bundle
folder), then asks the training registry for the models in production and swaps those in, and
hears every later promotion (``model.promoted``, broadcast). It consumes ``media.recorded`` once
a detector serves, and ``inference.requested`` (backfills) always.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import structlog
from fastapi import APIRouter

from wildlens.common.service import ServiceContext, ServiceSpec, SettingOption
from wildlens.inference.settings import InferenceSettings

log = structlog.get_logger(__name__)

NO_DETECTOR = (
    "no detector configured: media stay 'recorded' and go to each project's review queue as "
    "not analysed, for people to label. Add one with `wildlens models add PATH --serve`, "
    "point WILDLENS_INFERENCE__DETECTOR (or `wildlens up --detector PATH`) at a model "
    "bundle, or promote one"
)


def _routers() -> list[APIRouter]:
    from wildlens.inference.api.backfills import router as backfills
    from wildlens.inference.api.predict import router as predict

    return [backfills, predict]


async def _start(ctx: ServiceContext) -> None:
    # Imported here: the models' runtime (ONNX Runtime, numpy) loads only where inference runs.
    from wildlens.inference.consumers import CONSUMERS, MEDIA_RECORDED
    from wildlens.inference.runtime import InferenceRuntime

    media_recorded = dataclasses.replace(
        MEDIA_RECORDED, batch_size=InferenceSettings.of(ctx.settings).max_batch
    )

    async def consume_when_serving() -> None:
        runtime = ctx.runtime_as(InferenceRuntime)
        # A classifier alone analyses single objects (plankton vignettes), which need no
        # detector; other media wait for one all the same (they stay 'recorded').
        serving = runtime.serving
        if runtime.consuming or not (serving.serves("detector") or serving.serves("classifier")):
            return
        runtime.consuming = True
        ctx.subscribe([media_recorded])
        log.info("inference.consuming", models=runtime.serving.describe())

    runtime = await InferenceRuntime.start(ctx, consume_when_serving)
    ctx.runtime = runtime
    ctx.subscribe(CONSUMERS)
    await consume_when_serving()
    runtime.load_production()
    if runtime.serving.detector() is None:
        log.warning("inference.no_detector", detail=NO_DETECTOR)


async def _stop(ctx: ServiceContext) -> None:
    from wildlens.inference.runtime import InferenceRuntime

    runtime, ctx.runtime = ctx.runtime, None
    if isinstance(runtime, InferenceRuntime):  # None when stopped already
        await runtime.close()


async def _readiness(ctx: ServiceContext) -> dict[str, Any]:
    from wildlens.inference.runtime import InferenceRuntime

    runtime = ctx.runtime
    models = runtime.serving.describe() if isinstance(runtime, InferenceRuntime) else []
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
