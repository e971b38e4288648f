"""``device.revoked`` (a broadcast: every replica hears it): the token joins the list this
replica's requests are checked against."""

from __future__ import annotations

from wildlens.common.auth import RevocationList
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.devices_pb2 import DeviceRevoked
from wildlens.common.service import ServiceContext
from wildlens.ingest.revocation import revoke

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "device.revoked"
BATCH_SIZE = 16


async def handle(revocations: RevocationList, event: DeviceRevoked) -> None:
    """Add the revoked token to ``revocations``; repeats and any order converge on the same
    list."""
    revoke(revocations, event)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    # Nothing is written to the database: the list lives in this replica's memory.
    for envelope in envelopes:
        await handle(ctx.revocations, unpack(envelope, DeviceRevoked))
