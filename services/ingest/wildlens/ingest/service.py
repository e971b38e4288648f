"""The ingest service as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from wildlens.common.service import ServiceContext, ServiceSpec
from wildlens.ingest.tables import metadata
from wildlens.ingest.uploads import models as _upload_models  # noqa: F401  (registers tables)


def _routers() -> list[APIRouter]:
    from wildlens.ingest.uploads.api import router as uploads

    return [uploads]


async def _start(ctx: ServiceContext) -> None:
    """Consumers of the ingest service's own work queues and broadcasts."""


async def _stop(ctx: ServiceContext) -> None:
    """Release what ``_start`` set up."""


def service() -> ServiceSpec:
    return ServiceSpec(
        name="ingest",
        routers=_routers,
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        start=_start,
        stop=_stop,
        uses_outbox=True,
        order=20,
    )
