"""The bus as one service sends on it: envelopes named after the service, staged in its outbox
(sent after the commit) or published directly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message
from sqlalchemy import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.bus import Bus
from wildlens.common.db import stage
from wildlens.common.events import Envelope, new_envelope
from wildlens.common.telemetry import current_request_id, traceparent_var

__all__ = ["ServiceBus"]


@dataclass(frozen=True)
class ServiceBus:
    """What a route, consumer or worker of one service publishes with.

    Args:
        bus: the process's bus.
        producer: ``<service>@<instance>``, carried by every envelope.
        outbox: the service's outbox table; ``None`` for a service that publishes directly.
    """

    bus: Bus
    producer: str
    outbox: Table | None = None

    def envelope(self, payload: Message) -> Envelope:
        """``payload`` in an envelope carrying the trace of the work that caused it."""
        trace = {}
        request_id = current_request_id()
        if request_id:
            trace["request_id"] = request_id
        traceparent = traceparent_var.get()
        if traceparent:
            trace["traceparent"] = traceparent
        return new_envelope(payload, producer=self.producer, trace=trace)

    async def stage(self, session: AsyncSession, payloads: Sequence[Message]) -> list[Envelope]:
        """Put events in the outbox inside ``session``'s transaction; they go out after commit."""
        if self.outbox is None:
            raise RuntimeError(f"{self.producer} has no outbox")
        envelopes = [self.envelope(p) for p in payloads]
        await stage(session, self.outbox, envelopes)
        return envelopes

    async def publish(self, payloads: Sequence[Message]) -> None:
        """Publish directly, for services with nothing durable to commit first."""
        await self.bus.publish([self.envelope(p) for p in payloads])
