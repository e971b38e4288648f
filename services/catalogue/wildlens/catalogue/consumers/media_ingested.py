"""``media.ingested``: an upload ingest accepted becomes a recorded medium in its deployment
and event, announced to inference as ``media.recorded``."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.media.recording import record_media
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.media_pb2 import MediaIngested
from wildlens.common.service import ServiceBus, ServiceContext

__all__ = ["EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "media.ingested"
BATCH_SIZE = 16


async def handle(
    session: AsyncSession, bus: ServiceBus, event: MediaIngested, received_at: datetime
) -> None:
    """Record one ingested medium (the same upload announced twice is recorded once)."""
    await record_media(session, bus, event, received_at)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    async with ctx.unit_of_work(EVENT_TYPE, envelopes) as (session, fresh):
        for envelope in fresh:
            event = unpack(envelope, MediaIngested)
            await handle(session, ctx.service_bus, event, envelope.occurred_at)
