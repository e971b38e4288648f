"""The running state one service works with: its database, the bus, the object store, keys,
and the typed objects of its own it keeps while it runs (its runtime)."""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import httpx
import structlog
from google.protobuf.message import Message
from sqlalchemy import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import KeyRing, RevocationList, TokenIssuer
from wildlens.common.bus import Bus, Subscription
from wildlens.common.db import Database, OutboxRelay, first_deliveries
from wildlens.common.errors import Unavailable
from wildlens.common.events import Envelope
from wildlens.common.service.clients import ServiceClients
from wildlens.common.service.consumers import Consumer
from wildlens.common.service.service_bus import ServiceBus
from wildlens.common.service.spec import ServiceSpec
from wildlens.common.settings import Settings
from wildlens.common.storage import ObjectStore
from wildlens.common.telemetry import (
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    EVENTS_FAILED,
    request_id_var,
    traceparent_var,
)

__all__ = ["BatchHandler", "ServiceContext", "ServiceNotRunning", "instance_name"]

log = structlog.get_logger(__name__)

BatchHandler = Callable[[list[Envelope]], Awaitable[None]]
R = TypeVar("R")


class ServiceNotRunning(Unavailable):
    """A service's runtime was asked for before its start hook built it, or after its stop."""


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
    # The service's own running objects (the dataclass of its ``runtime`` module): built by
    # its start hook, closed and cleared by its stop hook.
    runtime: object | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def producer(self) -> str:
        return f"{self.name}@{self.instance}"

    @property
    def database(self) -> Database:
        """The service's database; an error naming the service where it declared no tables."""
        if self.db is None:
            raise RuntimeError(f"service {self.name} has no database")
        return self.db

    @property
    def processed_events(self) -> Table:
        """The table recording the events this service has handled."""
        if self.processed_table is None:
            raise RuntimeError(f"service {self.name} has no processed-events table")
        return self.processed_table

    @property
    def service_bus(self) -> ServiceBus:
        """The bus as this service sends on it (its outbox, where it has one)."""
        return ServiceBus(self.bus, self.producer, self.outbox_table)

    def runtime_as(self, kind: type[R]) -> R:
        """The service's runtime, of the type its start hook builds."""
        if self.runtime is None:
            raise ServiceNotRunning(f"service {self.name} is not running")
        if not isinstance(self.runtime, kind):
            raise TypeError(
                f"service {self.name} runs a {type(self.runtime).__name__}, not a {kind.__name__}"
            )
        return self.runtime

    def runtime_part(self, kind: type[R]) -> R:
        """The one member of the service's runtime that is a ``kind``: for code below the
        runtime's module (a domain's routes) that needs one of its objects.

        Raises:
            LookupError: no member is a ``kind``, or several are (which one is meant would be
                a guess).
        """
        if self.runtime is None:
            raise ServiceNotRunning(f"service {self.name} is not running")
        if not dataclasses.is_dataclass(self.runtime):
            raise TypeError(f"service {self.name}'s runtime is not a dataclass")
        found = [
            value
            for f in dataclasses.fields(self.runtime)
            if isinstance(value := getattr(self.runtime, f.name), kind)
        ]
        if len(found) != 1:
            raise LookupError(
                f"service {self.name}'s runtime holds {len(found)} {kind.__name__} (wanted one)"
            )
        return found[0]

    @property
    def service_clients(self) -> ServiceClients:
        """This service's clients of the other services' APIs."""
        if self.clients is None:
            raise RuntimeError(f"service {self.name} was not given service clients")
        return self.clients

    def client(self, service: str) -> httpx.AsyncClient:
        """An HTTP client for ``service``'s API, authenticated as this service; kept for the
        life of the context (in-process where ``service`` runs here, else over HTTP)."""
        return self.service_clients.client(service)

    async def publish(self, payloads: Sequence[Message]) -> None:
        """Publish directly, for services with nothing durable to commit first."""
        await self.service_bus.publish(payloads)

    @asynccontextmanager
    async def unit_of_work(
        self, event_type: str, envelopes: Sequence[Envelope]
    ) -> AsyncIterator[tuple[AsyncSession, list[Envelope]]]:
        """One transaction for a delivered batch, and the batch's events this service handles
        for the first time, recorded as handled in that same transaction: committed when the
        block ends (the bus acks after), rolled back when it raises (the bus redelivers)."""
        processed = self.processed_events
        async with self.database.transaction() as session:
            fresh = await first_deliveries(
                session, processed, envelopes, f"{self.name}:{event_type}"
            )
            yield session, fresh

    def subscribe(self, consumers: Sequence[Consumer]) -> None:
        """Subscribe each of a service's consumers (its ``consumers`` package's list)."""
        for consumer in consumers:
            self.consume_batches(
                consumer.event_type,
                functools.partial(consumer.handle, self),
                batch_size=consumer.batch_size,
                broadcast=consumer.broadcast,
            )

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
