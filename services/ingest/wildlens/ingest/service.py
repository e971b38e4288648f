"""The ingest service as the platform runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter

from wildlens.common.service import ServiceContext, ServiceSpec
from wildlens.ingest.models import metadata
from wildlens.ingest.revocation import revocation_status, start_revocations, stop_revocations
from wildlens.ingest.settings import IngestSettings


def _routers() -> list[APIRouter]:
    from wildlens.ingest.bulk.api import router as bulk_uploads
    from wildlens.ingest.uploads.api import router as uploads

    return [bulk_uploads, uploads]


async def _start(ctx: ServiceContext) -> None:
    """Consumers of the ingest service's own work queues and broadcasts."""
    from wildlens.ingest import removal
    from wildlens.ingest.derivatives import jobs as derivative_jobs
    from wildlens.ingest.video import jobs as video_jobs

    if IngestSettings.of(ctx.settings).run_workers:
        derivative_jobs.subscribe(ctx)
        video_jobs.subscribe(ctx)
        removal.subscribe(ctx)
    await start_revocations(ctx)


async def _stop(ctx: ServiceContext) -> None:
    """Release what ``_start`` set up."""
    await stop_revocations(ctx)


async def _readiness(ctx: ServiceContext) -> dict[str, Any]:
    return {"revocations": await revocation_status(ctx)}


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
