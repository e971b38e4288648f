"""The catalogue as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.alerts.delivery import DeliveryWorker
from wildlens.catalogue.exchange.jobs import start_worker, stop_worker
from wildlens.catalogue.media.analysis import analyzed_consumer
from wildlens.catalogue.media.recording import record_media
from wildlens.catalogue.models import metadata
from wildlens.catalogue.settings import AlertSettings
from wildlens.catalogue.statistics.summaries import SummaryRefresher
from wildlens.common.events import Envelope
from wildlens.common.service import ServiceContext, ServiceSpec

# Analyses arrive as fast as inference runs; taking them in batches, one transaction each,
# is how the catalogue keeps up. A batch's statements are as many whatever its size, so a
# large one spreads their fixed cost thin (the bus raises this consumer's prefetch to match).
ANALYZED_BATCH = 256


def _routers() -> list[APIRouter]:
    from wildlens.catalogue.access import scoped_to_projects
    from wildlens.catalogue.alerts.api import router as alerts
    from wildlens.catalogue.audit.api import router as audit
    from wildlens.catalogue.auth.api import router as auth
    from wildlens.catalogue.exchange.api import router as exchange
    from wildlens.catalogue.media.api import router as media
    from wildlens.catalogue.members.api import router as members
    from wildlens.catalogue.observations.api import router as verification
    from wildlens.catalogue.privacy.api import router as privacy
    from wildlens.catalogue.projects.api import router as projects
    from wildlens.catalogue.queries.api import router as queries
    from wildlens.catalogue.sequences.api import router as sequences
    from wildlens.catalogue.sites.api import router as sites
    from wildlens.catalogue.statistics.api import router as statistics
    from wildlens.catalogue.taxa.api import router as taxa
    from wildlens.catalogue.taxa.project_api import router as taxonomy

    return scoped_to_projects(
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
            verification,
            audit,
            sequences,
            privacy,
            alerts,
        ]
    )


async def _start(ctx: ServiceContext) -> None:
    async def on_ingested(session: AsyncSession, envelope: Envelope) -> None:
        await record_media(ctx, session, envelope)

    ctx.consume("media.ingested", on_ingested, batch_size=16)
    ctx.consume_batches("media.analyzed", analyzed_consumer(ctx), batch_size=ANALYZED_BATCH)
    # Alert webhooks go out from the delivery table, woken by the commits that queue them.
    assert ctx.db is not None
    worker = ctx.state["alert_deliveries"] = DeliveryWorker(
        ctx.db, allow_private_targets=AlertSettings.of(ctx.settings).allow_private_targets
    )
    ctx.db.on_commit(worker.kick)
    await worker.start()
    # Statistics read per-minute summaries; changes are folded in between requests too.
    refresher = ctx.state["statistics_summaries"] = SummaryRefresher(ctx.db)
    await refresher.start()
    # Export jobs are rows; this process's worker takes queued ones, and those whose process died.
    start_worker(ctx)


async def _stop(ctx: ServiceContext) -> None:
    await stop_worker(ctx)
    refresher: SummaryRefresher | None = ctx.state.pop("statistics_summaries", None)
    if refresher is not None:
        await refresher.close()
    worker: DeliveryWorker | None = ctx.state.pop("alert_deliveries", None)
    if worker is not None:
        await worker.close()


def service() -> ServiceSpec:
    return ServiceSpec(
        name="catalogue",
        routers=_routers,
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        start=_start,
        stop=_stop,
        uses_outbox=True,
        settings=AlertSettings,
        order=10,
    )
