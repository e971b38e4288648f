"""``ingest.derivatives.requested``: an original's thumbnail and display copy, made once per
content hash. The work needs no database, so no transaction is held open while it decodes."""

from __future__ import annotations

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.ingest_pb2 import DerivativesRequested
from wildlens.common.service import ServiceContext
from wildlens.common.storage import ObjectStore
from wildlens.ingest.derivatives.jobs import make_derivatives
from wildlens.ingest.settings import IngestSettings

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "ingest.derivatives.requested"
# Each request decodes a whole image.
BATCH_SIZE = 1


async def handle(store: ObjectStore, limits: IngestSettings, event: DerivativesRequested) -> bool:
    """Make one original's derivatives unless they exist; ``True`` if they were made."""
    return await make_derivatives(store, limits, event)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    limits = IngestSettings.of(ctx.settings)
    for envelope in envelopes:
        await handle(ctx.store, limits, unpack(envelope, DerivativesRequested))
