"""``media.analyzed``: a model's detections on a medium become machine observations, the alert
rules they match queue webhooks, and each medium's new labels go out as
``observations.changed``.

Analyses arrive as fast as inference runs; taking them in batches, one transaction each, is how
the catalogue keeps up. A batch's statements are as many whatever its size, so a large one
spreads their fixed cost thin (the bus raises this consumer's prefetch to match).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.alerts.matching import queue_alerts
from wildlens.catalogue.media.analysis import store_analysis
from wildlens.catalogue.observations.announcements import (
    ChangeCause,
    stage_observations_changed,
)
from wildlens.common.events import Envelope
from wildlens.common.service import ServiceBus, ServiceContext

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "media.analyzed"
BATCH_SIZE = 256


async def handle(
    session: AsyncSession, bus: ServiceBus, envelopes: Sequence[Envelope], *, base_url: str
) -> None:
    """Store a batch of analyses (each medium and model version once), queue the alerts they
    raise and announce the media's labels; ``base_url`` is where the webhooks' links point."""
    stored = await store_analysis(session, envelopes)
    # Rows only (the webhook outbox); a worker sends them after the commit.
    await queue_alerts(session, stored, base_url=base_url)
    await stage_observations_changed(
        session, bus, [media_id for media_id, _ in stored], ChangeCause.CHANGE_CAUSE_MACHINE
    )


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    async with ctx.unit_of_work(EVENT_TYPE, envelopes) as (session, fresh):
        await handle(session, ctx.service_bus, fresh, base_url=ctx.settings.public_url)
