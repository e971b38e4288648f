"""``device.revoked`` (a broadcast: every replica hears it): the token joins the list this
replica's requests are checked against."""

from __future__ import annotations

from wildlens.common.events import Envelope
from wildlens.common.service import ServiceContext
from wildlens.ingest.revocation import apply_revocations

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume"]

EVENT_TYPE = "device.revoked"
BATCH_SIZE = 16


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    await apply_revocations(ctx.revocations, envelopes)
