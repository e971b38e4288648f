"""The ingest service as the platform runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter

from wildlens.common.service import ServiceContext, ServiceSpec
from wildlens.ingest.consumers import CONSUMERS, WORKERS
from wildlens.ingest.models import metadata
from wildlens.ingest.runtime import IngestRuntime
from wildlens.ingest.settings import IngestSettings


def _routers() -> list[APIRouter]:
    from wildlens.ingest.bulk.api import router as bulk_uploads
    from wildlens.ingest.uploads.api import router as uploads

    return [bulk_uploads, uploads]


async def _start(ctx: ServiceContext) -> None:
    ctx.runtime = await IngestRuntime.start(ctx)
    ctx.subscribe(CONSUMERS)
    if IngestSettings.of(ctx.settings).run_workers:
        ctx.subscribe(WORKERS)


async def _stop(ctx: ServiceContext) -> None:
    runtime, ctx.runtime = ctx.runtime, None
    if isinstance(runtime, IngestRuntime):  # None when stopped already
        await runtime.close()


async def _readiness(ctx: ServiceContext) -> dict[str, Any]:
    if not isinstance(ctx.runtime, IngestRuntime):
        return {"revocations": {"loaded": False, "in_force": len(ctx.revocations)}}
    return {"revocations": ctx.runtime.revocations.status()}


def service() -> ServiceSpec:
    return ServiceSpec(
        name="ingest",
        routers=_routers,
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        start=_start,
        stop=_stop,
        readiness=_readiness,
        uses_outbox=True,
        settings=IngestSettings,
        order=20,
    )
