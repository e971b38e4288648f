"""``media.deleted``: the catalogue removed a medium; ingest forgets its upload and removes
the stored files nothing else uses."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.media_pb2 import MediaDeleted
from wildlens.common.service import ServiceContext
from wildlens.common.storage import ObjectStore
from wildlens.ingest.removal import forget_media

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "media.deleted"
# Each removal may delete many stored files.
BATCH_SIZE = 1


async def handle(session: AsyncSession, store: ObjectStore, event: MediaDeleted) -> int:
    """Forget one removed medium; answers how many files were removed."""
    return await forget_media(store, session, event)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    async with ctx.unit_of_work(EVENT_TYPE, envelopes) as (session, fresh):
        for envelope in fresh:
            await handle(session, ctx.store, unpack(envelope, MediaDeleted))
