"""The citsci service as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from wildlens.citsci.consumers import CONSUMERS
from wildlens.citsci.models import metadata
from wildlens.citsci.settings import CitsciSettings
from wildlens.common.service import ServiceContext, ServiceSpec


def _routers() -> list[APIRouter]:
    from wildlens.citsci.reports.api import router as reports
    from wildlens.citsci.subjects.api import router as subject_sets
    from wildlens.citsci.volunteers.api import router as volunteers
    from wildlens.citsci.zooniverse.api import router as zooniverse

    return [subject_sets, zooniverse, volunteers, reports]


async def _start(ctx: ServiceContext) -> None:
    ctx.subscribe(CONSUMERS)


def service() -> ServiceSpec:
    return ServiceSpec(
        name="citsci",
        routers=_routers,
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        start=_start,
        uses_outbox=True,
        settings=CitsciSettings,
        order=40,
    )
