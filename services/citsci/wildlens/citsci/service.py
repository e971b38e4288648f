"""The citsci service as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from wildlens.citsci.consumers import CONSUMERS
from wildlens.citsci.models import metadata
from wildlens.citsci.runtime import CitsciRuntime
from wildlens.citsci.settings import CitsciSettings
from wildlens.common.service import ServiceContext, ServiceSpec


def _routers() -> list[APIRouter]:
    from wildlens.citsci.reports.api import router as reports
    from wildlens.citsci.selection.api import router as selection
    from wildlens.citsci.subjects.api import router as subject_sets
    from wildlens.citsci.volunteers.api import router as volunteers
    from wildlens.citsci.zooniverse.api import router as zooniverse

    return [subject_sets, zooniverse, volunteers, selection, reports]


async def _start(ctx: ServiceContext) -> None:
    ctx.runtime = await CitsciRuntime.start(ctx)
    ctx.subscribe(CONSUMERS)


async def _stop(ctx: ServiceContext) -> None:
    runtime, ctx.runtime = ctx.runtime, None
    if isinstance(runtime, CitsciRuntime):  # None when stopped already
        await runtime.close()


def service() -> ServiceSpec:
    return ServiceSpec(
        name="citsci",
        routers=_routers,
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        start=_start,
        stop=_stop,
        uses_outbox=True,
        settings=CitsciSettings,
        order=40,
    )
