"""The catalogue as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from wildlens.catalogue.consumers import CONSUMERS
from wildlens.catalogue.models import metadata
from wildlens.catalogue.runtime import CatalogueRuntime
from wildlens.catalogue.settings import AlertSettings, GbifSettings
from wildlens.common.service import ServiceContext, ServiceSpec


def _routers() -> list[APIRouter]:
    from wildlens.catalogue.access import scoped_to_projects
    from wildlens.catalogue.alerts.api import router as alerts
    from wildlens.catalogue.audit.api import router as audit
    from wildlens.catalogue.auth.api import router as auth
    from wildlens.catalogue.exchange.api import router as exchange
    from wildlens.catalogue.media.api import router as media
    from wildlens.catalogue.members.api import router as members
    from wildlens.catalogue.members.join_api import router as join
    from wildlens.catalogue.observations.api import router as verification
    from wildlens.catalogue.privacy.api import router as privacy
    from wildlens.catalogue.projects.api import router as projects
    from wildlens.catalogue.queries.api import router as queries
    from wildlens.catalogue.samples.api import router as samples
    from wildlens.catalogue.sequences.api import router as sequences
    from wildlens.catalogue.sites.api import router as sites
    from wildlens.catalogue.statistics.api import router as statistics
    from wildlens.catalogue.taxa.api import router as taxa
    from wildlens.catalogue.taxa.project_api import router as taxonomy

    # Joining is for callers who are not members yet: outside the project gate.
    gated = scoped_to_projects(
        [
            projects,
            members,
            sites,
            media,
            auth,
            exchange,
            taxa,
            taxonomy,
            queries,
            statistics,
            samples,
            verification,
            audit,
            sequences,
            privacy,
            alerts,
        ]
    )
    return [join, *gated]


async def _start(ctx: ServiceContext) -> None:
    ctx.runtime = await CatalogueRuntime.start(ctx)
    ctx.subscribe(CONSUMERS)


async def _stop(ctx: ServiceContext) -> None:
    runtime, ctx.runtime = ctx.runtime, None
    if isinstance(runtime, CatalogueRuntime):  # None when stopped already
        await runtime.close()


def service() -> ServiceSpec:
    return ServiceSpec(
        name="catalogue",
        routers=_routers,
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        start=_start,
        stop=_stop,
        uses_outbox=True,
        settings=(AlertSettings, GbifSettings),
        order=10,
    )
