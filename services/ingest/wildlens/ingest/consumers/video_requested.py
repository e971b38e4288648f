"""``ingest.video.requested``: a stored video cut into frames and clips, announced as child
media.

The cut runs outside any transaction (a long video takes minutes); the unit of work, opened
after it, records the request as handled and stages the announcements together."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy import select

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.ingest_pb2 import DerivativesRequested, VideoSplitRequested
from wildlens.common.events.v1.media_pb2 import MediaIngested
from wildlens.common.service import ServiceContext
from wildlens.common.storage import ObjectStore
from wildlens.ingest.settings import IngestSettings
from wildlens.ingest.video.jobs import announcements, plan_from, stored_children

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume", "handle"]

log = structlog.get_logger(__name__)

EVENT_TYPE = "ingest.video.requested"
# Each request cuts a whole video.
BATCH_SIZE = 1


async def handle(
    store: ObjectStore, limits: IngestSettings, event: VideoSplitRequested
) -> Sequence[MediaIngested | DerivativesRequested]:
    """Cut and store the pieces of one video (or find them stored by an earlier cut of the
    same bytes); answers the announcements of its pieces, for the caller to stage."""
    children = await stored_children(store, plan_from(limits), event)
    return announcements(event, children)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    limits = IngestSettings.of(ctx.settings)
    for envelope in envelopes:
        if await _handled_before(ctx, envelope):
            continue  # redelivered after it was handled: nothing to cut again
        event = unpack(envelope, VideoSplitRequested)
        pieces = await handle(ctx.store, limits, event)
        async with ctx.unit_of_work(EVENT_TYPE, [envelope]) as (session, fresh):
            if not fresh:
                continue  # another replica finished the same request meanwhile
            await ctx.service_bus.stage(session, pieces)
        log.info("video.split", media_id=event.media_id, pieces=len(pieces))


async def _handled_before(ctx: ServiceContext, envelope: Envelope) -> bool:
    """Whether the request was handled already, read in a short transaction of its own."""
    table = ctx.processed_events
    async with ctx.database.transaction() as session:
        connection = await session.connection()
        row = await connection.execute(
            select(table.c.event_id).where(
                table.c.event_id == envelope.event_id,
                table.c.consumer == f"{ctx.name}:{EVENT_TYPE}",
            )
        )
        return row.first() is not None
