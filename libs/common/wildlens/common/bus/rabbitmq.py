"""The bus on RabbitMQ: one durable topic exchange, a quorum queue per (group, event type).

Dead-lettering: the consumer itself moves a message to the dead-letter exchange on its last
attempt (or at once for bytes that are no envelope), with the reason in an
``x-wildlens-error`` header, and only then acks it. The broker's own dead-lettering (quorum
``x-delivery-limit``) cannot carry a reason and gives no say over when it happens; it stays
configured as the backstop for a message that crashes its consumer every time, which never
gets the chance to dead-letter it. Its limit is ``max_deliveries - 1`` because RabbitMQ
dead-letters once the delivery count *exceeds* the limit, i.e. on what would be delivery
``max_deliveries + 1``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelNotFoundEntity
from yarl import URL

from wildlens.common.bus.base import (
    DEFAULT_CLOSE_GRACE,
    Bus,
    DeadLetter,
    Subscription,
    broadcast_queue_name,
    dead_queue_name,
    prefetch_of,
    queue_name,
)
from wildlens.common.bus.dispatch import dispatch
from wildlens.common.errors import Unavailable
from wildlens.common.events.envelope import Envelope, encode
from wildlens.common.settings import BrokerSettings

__all__ = ["RabbitBus"]

log = structlog.get_logger()

ERROR_HEADER = "x-wildlens-error"
DELIVERIES_HEADER = "x-wildlens-deliveries"
QUEUE_HEADER = "x-wildlens-queue"


class RabbitBus(Bus):
    """Args:
    url: ``amqp://host:port/vhost``, without credentials.
    settings: credentials, exchange, queue prefix, dead-lettering and prefetch.
    instance: names this process's broadcast queues and its connection.
    timeout: seconds to wait for the broker when connecting, pinging or publishing.
    """

    def __init__(
        self, url: str, settings: BrokerSettings, *, instance: str, timeout: float = 10.0
    ) -> None:
        address = URL(url)
        if settings.username:
            address = address.with_user(settings.username)
            if settings.password is not None:
                address = address.with_password(settings.password.get_secret_value())
        self._url = address
        self._settings = settings
        self._instance = instance
        self._timeout = timeout
        self._dlx_name = f"{settings.exchange}.dlx"
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._dlx: AbstractExchange | None = None
        self._subscriptions: list[Subscription] = []
        self._consumers: list[_Consumer] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._declaring: set[asyncio.Task[None]] = set()
        self._queues: set[str] = set()

    async def start(self) -> None:
        if self._connection is not None:
            return
        try:
            self._connection = await aio_pika.connect_robust(
                self._url,
                timeout=self._timeout,
                client_properties={"connection_name": f"wildlens {self._instance}"},
            )
            channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(
                self._settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            self._dlx = await channel.declare_exchange(
                self._dlx_name, aio_pika.ExchangeType.DIRECT, durable=True
            )
            for sub in self._subscriptions:
                await self._start_consumer(sub)
        except CONNECTION_EXCEPTIONS as exc:
            await self._drop_connection()
            raise Unavailable(f"RabbitMQ at {self._safe_url}: {exc!r}") from exc

    async def close(self, *, grace: float = DEFAULT_CLOSE_GRACE) -> None:
        if self._connection is None:
            return
        for consumer in self._consumers:
            await consumer.stop()
        if self._handlers:
            _, running = await asyncio.wait(set(self._handlers), timeout=grace)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        self._consumers.clear()
        # Closing returns every unacked message to its queue, so a cancelled handler's
        # messages are delivered again.
        await self._drop_connection()

    def subscribe(self, sub: Subscription) -> None:
        self._subscriptions.append(sub)
        if self._connection is not None:
            task = asyncio.create_task(self._start_consumer(sub))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
            self._declaring.add(task)
            task.add_done_callback(self._declaring.discard)

    async def declared(self) -> None:
        if self._declaring:
            await asyncio.gather(*self._declaring)

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        if self._exchange is None:
            raise RuntimeError("RabbitBus.publish() before start()")
        exchange = self._exchange
        messages = [
            (
                envelope.type,
                aio_pika.Message(
                    encode(envelope),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    content_type="application/x-protobuf",
                    message_id=envelope.event_id,
                    type=envelope.type,
                    app_id=envelope.producer,
                    timestamp=envelope.occurred_at,
                ),
            )
            for envelope in envelopes
        ]
        # All messages in flight at once, one confirm wait each: a list costs about one
        # round trip instead of one per message.
        results = await asyncio.gather(
            *(
                exchange.publish(message, routing_key, mandatory=False, timeout=self._timeout)
                for routing_key, message in messages
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise Unavailable(f"RabbitMQ did not confirm a publish: {result!r}") from result

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(self._timeout), self._channel() as channel:
                await channel.declare_exchange(
                    self._settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
                )
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            raise Unavailable(f"RabbitMQ at {self._safe_url}: {exc!r}") from exc

    async def dead_letters(self, group: str, event_type: str) -> list[DeadLetter]:
        name = dead_queue_name(self._settings.queue_prefix, group, event_type)
        letters: list[DeadLetter] = []
        async with self._channel() as channel:
            try:
                queue = await channel.declare_queue(name, passive=True)
            except ChannelNotFoundEntity:
                return []
            # Unacked gets on one channel never return the same message twice; closing the
            # channel puts them all back, which is what "read without removing" needs.
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                letters.append(self._dead_letter_of(message))
        return letters

    async def delete_topology(self) -> None:
        async with self._channel() as channel:
            for name in sorted(self._queues):
                with suppress(*CONNECTION_EXCEPTIONS):
                    await channel.queue_delete(name)
            for name in (self._dlx_name, self._settings.exchange):
                with suppress(*CONNECTION_EXCEPTIONS):
                    await channel.exchange_delete(name)

    @property
    def _safe_url(self) -> str:
        return str(self._url.with_password(None) if self._url.user else self._url)

    @asynccontextmanager
    async def _channel(self) -> AsyncIterator[AbstractChannel]:
        """A short-lived channel: on the bus's connection, or on one of its own when the bus
        is not started (a failed operation closes its channel, so none is reused)."""
        if self._connection is not None and not self._connection.is_closed:
            channel = await self._connection.channel()
            try:
                yield channel
            finally:
                with suppress(*CONNECTION_EXCEPTIONS):
                    await channel.close()
            return
        connection = await aio_pika.connect(self._url, timeout=self._timeout)
        try:
            yield await connection.channel()
        finally:
            with suppress(*CONNECTION_EXCEPTIONS):
                await connection.close()

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        self._exchange = self._dlx = None
        if connection is not None:
            with suppress(*CONNECTION_EXCEPTIONS):
                await connection.close()

    async def _start_consumer(self, sub: Subscription) -> None:
        assert self._connection is not None
        prefix = self._settings.queue_prefix
        dead_name = dead_queue_name(prefix, sub.group, sub.event_type)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch_of(self._settings, sub))
        dead = await channel.declare_queue(dead_name, durable=True)
        await dead.bind(self._dlx_name, routing_key=dead_name)
        if sub.broadcast:
            # Quorum queues cannot be exclusive; a broadcast queue lives and dies with this
            # connection, so a classic one loses nothing that matters.
            name = broadcast_queue_name(prefix, sub.group, sub.event_type, self._instance)
            queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
        else:
            name = queue_name(prefix, sub.group, sub.event_type)
            queue = await channel.declare_queue(
                name,
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-delivery-limit": self._settings.max_deliveries - 1,
                    "x-dead-letter-exchange": self._dlx_name,
                    "x-dead-letter-routing-key": dead_name,
                },
            )
        await queue.bind(self._settings.exchange, routing_key=sub.event_type)
        self._queues.update((name, dead_name))
        consumer = _Consumer(self, sub, queue, dead_name, counts_attempts=sub.broadcast)
        await consumer.start()
        self._consumers.append(consumer)
        log.info("bus.consuming", queue=name)

    async def _publish_dead(
        self,
        message: AbstractIncomingMessage,
        *,
        queue: str,
        dead_queue: str,
        reason: str,
        attempt: int,
    ) -> None:
        if self._dlx is None:
            raise RuntimeError("bus closed")
        headers: dict[str, Any] = dict(message.headers or {})
        headers.update({ERROR_HEADER: reason, DELIVERIES_HEADER: attempt, QUEUE_HEADER: queue})
        dead = aio_pika.Message(
            message.body,
            headers=headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type=message.content_type,
            message_id=message.message_id,
            type=message.type,
            app_id=message.app_id,
            timestamp=message.timestamp,
        )
        await self._dlx.publish(dead, dead_queue, mandatory=False, timeout=self._timeout)

    def _dead_letter_of(self, message: AbstractIncomingMessage) -> DeadLetter:
        headers = message.headers or {}
        reason = headers.get(ERROR_HEADER) or headers.get("x-first-death-reason") or "unknown"
        # Without our header the broker dead-lettered it on its delivery limit.
        deliveries = headers.get(DELIVERIES_HEADER, self._settings.max_deliveries)
        return DeadLetter(message.body, _text(reason), int(str(deliveries)))


class _Consumer:
    """Feeds one queue's messages, in batches, to the subscription's handler."""

    def __init__(
        self,
        bus: RabbitBus,
        sub: Subscription,
        queue: AbstractQueue,
        dead_queue: str,
        *,
        counts_attempts: bool,
    ) -> None:
        self.bus = bus
        self.sub = sub
        self.queue = queue
        self.dead_queue = dead_queue
        # Classic (broadcast) queues keep no delivery count; being exclusive, only this
        # consumer ever sees their messages, so counting here is exact.
        self.counts_attempts = counts_attempts
        self.attempts: dict[bytes, int] = {}
        self._received: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        # prefetch_of keeps the channel's prefetch at least this large.
        self._batch_size = sub.batch_size
        self._tag: str | None = None
        self._batcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._batcher = asyncio.create_task(self._batch(), name=f"bus-consumer-{self.queue.name}")
        self._tag = await self.queue.consume(self._received.put)

    async def stop(self) -> None:
        if self._tag is not None:
            with suppress(*CONNECTION_EXCEPTIONS):
                await self.queue.cancel(self._tag)
        if self._batcher is not None:
            self._batcher.cancel()
            with suppress(asyncio.CancelledError):
                await self._batcher

    async def _batch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._received.get()]
            deadline = loop.time() + self.sub.batch_wait
            while len(batch) < self._batch_size:
                try:
                    async with asyncio.timeout_at(deadline):
                        batch.append(await self._received.get())
                except TimeoutError:
                    break
            task = asyncio.create_task(self._handle(batch))
            self.bus._handlers.add(task)
            task.add_done_callback(self.bus._handlers.discard)

    async def _handle(self, batch: list[AbstractIncomingMessage]) -> None:
        deliveries = [_RabbitDelivery(self, message, self._attempt(message)) for message in batch]
        settings = self.bus._settings
        await dispatch(
            self.sub,
            deliveries,
            settings.max_deliveries,
            retry_unavailable_s=settings.retry_unavailable_s,
        )

    def _attempt(self, message: AbstractIncomingMessage) -> int:
        if self.counts_attempts:
            attempt = self.attempts.get(message.body, 0) + 1
            self.attempts[message.body] = attempt
            return attempt
        # Quorum queues count earlier deliveries that were returned (nack or lost consumer).
        return int(str((message.headers or {}).get("x-delivery-count", 0))) + 1


@dataclass
class _RabbitDelivery:
    consumer: _Consumer
    message: AbstractIncomingMessage
    attempt: int
    _settled: bool = field(default=False)

    @property
    def body(self) -> bytes:
        return self.message.body

    async def ack(self) -> None:
        self.consumer.attempts.pop(self.message.body, None)
        await self.message.ack()

    async def retry(self, reason: str) -> None:
        await self.message.nack(requeue=True)

    async def dead_letter(self, reason: str) -> None:
        try:
            await self.consumer.bus._publish_dead(
                self.message,
                queue=self.consumer.queue.name,
                dead_queue=self.consumer.dead_queue,
                reason=reason,
                attempt=self.attempt,
            )
        except BaseException:
            # Not dead-lettered: give it back rather than hold it unacked until the channel
            # closes; the broker's delivery limit still bounds the attempts.
            with suppress(*CONNECTION_EXCEPTIONS):
                await self.message.nack(requeue=True)
            raise
        self.consumer.attempts.pop(self.message.body, None)
        await self.message.ack()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
