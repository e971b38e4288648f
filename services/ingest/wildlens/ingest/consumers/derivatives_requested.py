"""``ingest.derivatives.requested``: an original's thumbnail and display copy, made once per
content hash. The work needs no database, so no transaction is held open while it decodes."""

from __future__ import annotations

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.ingest_pb2 import DerivativesRequested
from wildlens.common.service import ServiceContext
from wildlens.ingest.derivatives.jobs import EVENT_TYPE, make_derivatives

__all__ = ["EVENT_TYPE", "consume"]


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        await make_derivatives(ctx, unpack(envelope, DerivativesRequested))
