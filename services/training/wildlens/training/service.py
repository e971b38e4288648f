"""The training service as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from wildlens.common.service import ServiceContext, ServiceSpec
from wildlens.training.models import metadata
from wildlens.training.settings import TrainingSettings


def _routers() -> list[APIRouter]:
    from wildlens.training.datasets.api import router as datasets
    from wildlens.training.jobs.api import router as jobs
    from wildlens.training.registry.api import router as registry
    from wildlens.training.uploads.api import router as uploads

    # Uploads first: /v1/models/uploads/... is not a model id.
    return [uploads, registry, datasets, jobs]


async def _start(ctx: ServiceContext) -> None:
    from wildlens.training.consumers import WORKER_CONSUMERS
    from wildlens.training.runtime import TrainingRuntime

    runtime = await TrainingRuntime.start(ctx)
    ctx.runtime = runtime
    if runtime.trains:
        # training.requested goes to the processes that train, on their own queue.
        ctx.subscribe(WORKER_CONSUMERS)


async def _stop(ctx: ServiceContext) -> None:
    from wildlens.training.runtime import TrainingRuntime

    runtime, ctx.runtime = ctx.runtime, None
    if isinstance(runtime, TrainingRuntime):  # None when stopped already
        await runtime.close()


def service() -> ServiceSpec:
    return ServiceSpec(
        name="training",
        routers=_routers,
        metadata=metadata,
        settings=TrainingSettings,
        migrations=Path(__file__).parent / "migrations",
        start=_start,
        stop=_stop,
        uses_outbox=True,
        order=50,
    )
