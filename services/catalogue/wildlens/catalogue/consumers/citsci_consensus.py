"""``citsci.consensus``: a retired subject's volunteers' consensus becomes human observations
(``observations.consensus``), idempotent on the consensus and its version."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.observations.consensus import store_consensus
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.citsci_pb2 import CitsciConsensus
from wildlens.common.service import ServiceBus, ServiceContext

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "citsci.consensus"
BATCH_SIZE = 16


async def handle(session: AsyncSession, bus: ServiceBus, event: CitsciConsensus) -> None:
    """Write one consensus back (a repeated or older version changes nothing)."""
    await store_consensus(session, bus, event)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    async with ctx.unit_of_work(EVENT_TYPE, envelopes) as (session, fresh):
        for envelope in fresh:
            await handle(session, ctx.service_bus, unpack(envelope, CitsciConsensus))
