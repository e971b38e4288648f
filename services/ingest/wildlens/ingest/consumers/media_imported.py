"""``media.imported``: the catalogue stored an original that came inside an import; ingest
holds it like an upload's and asks for its derivatives."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.media_pb2 import MediaImported
from wildlens.common.service import ServiceBus, ServiceContext
from wildlens.common.storage import ObjectStore
from wildlens.ingest.imports import hold_imported

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "media.imported"
# A package brings thousands of files: one transaction for a batch of them.
BATCH_SIZE = 50


async def handle(
    session: AsyncSession, store: ObjectStore, bus: ServiceBus, event: MediaImported
) -> bool:
    """Hold one imported original; ``False`` when there is none of ingest's to hold."""
    return await hold_imported(session, store, bus, event)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    async with ctx.unit_of_work(EVENT_TYPE, envelopes) as (session, fresh):
        events = [unpack(envelope, MediaImported) for envelope in fresh]
        # Each holds its bytes' lock to the commit: taken in one order by every replica, two
        # batches that share files wait for each other instead of deadlocking.
        for event in sorted(events, key=lambda e: (e.sha256, e.media_id)):
            await handle(session, ctx.store, ctx.service_bus, event)
