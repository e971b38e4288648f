"""The running state one service works with: its database, the bus, the object store, keys."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from google.protobuf.message import Message
from sqlalchemy import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import KeyRing, RevocationList, TokenIssuer
from wildlens.common.bus import Bus, Subscription
from wildlens.common.db import Database, OutboxRelay, first_delivery, stage
from wildlens.common.events import Envelope, new_envelope
from wildlens.common.service.clients import ServiceClients
from wildlens.common.service.spec import ServiceSpec
from wildlens.common.settings import Settings
from wildlens.common.storage import ObjectStore
from wildlens.common.telemetry import (
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    EVENTS_FAILED,
    current_request_id,
    request_id_var,
    traceparent_var,
)

__all__ = ["BatchHandler", "EventHandler", "ServiceContext", "instance_name"]

log = structlog.get_logger(__name__)

EventHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]
BatchHandler = Callable[[list[Envelope]], Awaitable[None]]


def instance_name() -> str:
    """Unique per running process: names its broadcast queues and appears as the producer."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class ServiceContext:
    spec: ServiceSpec
    settings: Settings
    bus: Bus
    store: ObjectStore
    keys: KeyRing
    instance: str
    db: Database | None = None
    outbox_table: Table | None = None
    processed_table: Table | None = None
    relay: OutboxRelay | None = None
    issuer: TokenIssuer | None = None
    # Token ids every request of this process is refused with; shared by its services.
    revocations: RevocationList = field(default_factory=RevocationList)
    clients: ServiceClients | None = None
    # Whatever the service keeps while it runs (caches, models, background tasks).
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def producer(self) -> str:
        return f"{self.name}@{self.instance}"

    def client(self, service: str) -> httpx.AsyncClient:
        """An HTTP client for ``service``'s API, authenticated as this service; kept for the
        life of the context (in-process where ``service`` runs here, else over HTTP)."""
        if self.clients is None:
            raise RuntimeError(f"service {self.name} was not given service clients")
        return self.clients.client(service)

    def envelope(self, payload: Message) -> Envelope:
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
        if self.outbox_table is None:
            raise RuntimeError(f"service {self.name} has no outbox")
        envelopes = [self.envelope(p) for p in payloads]
        await stage(session, self.outbox_table, envelopes)
        return envelopes

    async def publish(self, payloads: Sequence[Message]) -> None:
        """Publish directly, for services with nothing durable to commit first."""
        await self.bus.publish([self.envelope(p) for p in payloads])

    def consume(
        self,
        event_type: str,
        handler: EventHandler,
        *,
        batch_size: int = 1,
        broadcast: bool = False,
    ) -> None:
        """Subscribe ``handler`` to ``event_type``, transactionally.

        A batch runs in one transaction, each event at most once (recorded by event id in the
        same transaction), and the bus acks only after the commit.
        """
        if self.db is None or self.processed_table is None:
            raise RuntimeError(f"service {self.name} has no database; use consume_batches")
        db, processed = self.db, self.processed_table
        consumer = f"{self.name}:{event_type}"

        async def handle(envelopes: list[Envelope]) -> None:
            async with db.transaction() as session:
                for envelope in envelopes:
                    if await first_delivery(session, processed, envelope.event_id, consumer):
                        await handler(session, envelope)

        self.consume_batches(event_type, handle, batch_size=batch_size, broadcast=broadcast)

    def consume_batches(
        self,
        event_type: str,
        handler: BatchHandler,
        *,
        batch_size: int = 1,
        broadcast: bool = False,
    ) -> None:
        """Subscribe a handler that takes a whole batch; the bus acks after it returns."""

        async def measured(envelopes: list[Envelope]) -> None:
            # Work done for an event logs, and publishes, under the trace that caused it.
            first = envelopes[0].trace if envelopes else {}
            request_token = request_id_var.set(first.get("request_id"))
            trace_token = traceparent_var.set(first.get("traceparent"))
            try:
                await handler(envelopes)
            except Exception:
                EVENTS_FAILED.labels(self.name, event_type).inc(len(envelopes))
                raise
            finally:
                request_id_var.reset(request_token)
                traceparent_var.reset(trace_token)
            now = datetime.now(UTC)
            EVENTS_CONSUMED.labels(self.name, event_type).inc(len(envelopes))
            for envelope in envelopes:
                CONSUMER_LAG.labels(self.name, event_type).observe(
                    max(0.0, (now - envelope.occurred_at).total_seconds())
                )

        self.bus.subscribe(
            Subscription(
                group=self.name,
                event_type=event_type,
                handler=measured,
                broadcast=broadcast,
                batch_size=batch_size,
            )
        )
