"""The inference service as the platform runs it."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from fastapi import APIRouter
from prometheus_client import Info

from wildlens.common.service import ServiceContext, ServiceSpec

log = structlog.get_logger(__name__)

MODEL_INFO = Info("wildlens_inference_model", "The detector this instance serves.")

NO_DETECTOR = (
    "no detector configured: media stay 'recorded'. Point WILDLENS_INFERENCE__DETECTOR "
    "(or `wildlens up --detector PATH`) at a model bundle"
)
BATCH = 8


def _routers() -> list[APIRouter]:
    return []


async def _start(ctx: ServiceContext) -> None:
    from wildlens.inference.analysis.runner import Analyzer
    from wildlens.inference.models.detector import Detector

    path = ctx.settings.inference.detector
    if path is None:
        log.warning("inference.no_detector", detail=NO_DETECTOR)
        return
    # A bad bundle stops the start-up with its reason: serving nothing silently is worse.
    detector = await asyncio.to_thread(Detector.from_path, path)
    await asyncio.to_thread(detector.load)
    MODEL_INFO.info(
        {
            "name": detector.name,
            "version": detector.version,
            "sha256": detector.sha256,
            "providers": ",".join(detector.providers),
        }
    )
    analyzer = Analyzer(ctx, detector)
    ctx.state["analyzer"] = analyzer

    ctx.consume_batches("media.recorded", analyzer.handle, batch_size=BATCH)
    log.info(
        "inference.ready",
        model=detector.name,
        version=detector.version,
        providers=detector.providers,
    )


async def _stop(ctx: ServiceContext) -> None:
    analyzer = ctx.state.pop("analyzer", None)
    if analyzer is not None:
        analyzer.close()


async def _readiness(ctx: ServiceContext) -> dict[str, Any]:
    analyzer = ctx.state.get("analyzer")
    if analyzer is None:
        return {"detector": None, "detail": NO_DETECTOR}
    detector = analyzer.detector
    return {
        "detector": {
            "name": detector.name,
            "version": detector.version,
            "sha256": detector.sha256,
            "providers": detector.providers,
        }
    }


def service() -> ServiceSpec:
    return ServiceSpec(
        name="inference",
        routers=_routers,
        start=_start,
        stop=_stop,
        readiness=_readiness,
        order=30,
    )
