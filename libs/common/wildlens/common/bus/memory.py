"""A bus in one SQLite file, for embedded mode and tests: no broker to run.

Several buses may share the file (the services of one process, or processes on one host);
they compete for each queue's messages exactly like consumers of a RabbitMQ queue.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import structlog

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
from wildlens.common.bus.sqlite_store import ClaimedMessage, SqliteStore
from wildlens.common.errors import Unavailable
from wildlens.common.events.envelope import Envelope, encode
from wildlens.common.settings import BrokerSettings

__all__ = ["MemoryBus"]

log = structlog.get_logger()

T = TypeVar("T")

# Consumers of one file in this process, woken by a publish instead of waiting for their next
# poll. Weak, so that a bus nobody closed does not stay reachable through it.
_WAKERS: dict[str, weakref.WeakSet[_Waker]] = {}


class _Waker:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def wake(self) -> None:
        # Buses in other threads share the registry; an Event may only be set on its loop.
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.event.set)


class MemoryBus(Bus):
    """Args:
    path: the SQLite file; created when missing.
    settings: prefix, dead-lettering and prefetch settings (exchange is not used).
    instance: names this process's broadcast queues.
    poll_interval: how often a consumer looks for messages published by other processes.
    owner_timeout: after this long without a heartbeat a bus is taken for dead and its
        unacked messages are handed out again.
    """

    def __init__(
        self,
        path: Path,
        settings: BrokerSettings,
        *,
        instance: str,
        poll_interval: float = 0.5,
        owner_timeout: float = 30.0,
    ) -> None:
        self._path = path
        self._settings = settings
        self._instance = instance
        self._poll_interval = poll_interval
        self._owner_timeout = owner_timeout
        # Unique per bus object, so that two buses on one file never settle each other's
        # messages, even with the same instance name.
        self._token = f"{instance}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._host = socket.gethostname()
        self._key = str(path.resolve())
        # One thread owns the connection: operations are serialised without a lock and
        # blocking SQLite calls stay off the event loop.
        self._executor: ThreadPoolExecutor | None = None
        self._store: SqliteStore | None = None
        self._subscriptions: list[Subscription] = []
        self._consumers: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._declaring: set[asyncio.Task[None]] = set()
        self._wakers: list[_Waker] = []
        self._heartbeat: asyncio.Task[None] | None = None
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        await self._call(
            lambda store: store.register(self._token, self._host, os.getpid(), time.time())
        )
        # Messages a crashed process left unacked become deliverable again right away.
        await self._reap()
        self._started = True
        self._heartbeat = asyncio.create_task(self._beat(), name="bus-heartbeat")
        for sub in self._subscriptions:
            await self._start_consumer(sub)

    async def close(self, *, grace: float = DEFAULT_CLOSE_GRACE) -> None:
        if self._store is None:
            return
        self._started = False
        tasks = [*self._consumers, *([self._heartbeat] if self._heartbeat else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._handlers:
            _, running = await asyncio.wait(set(self._handlers), timeout=grace)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        wakers = _WAKERS.get(self._key)
        for waker in self._wakers:
            if wakers is not None:
                wakers.discard(waker)
        self._wakers.clear()
        self._consumers.clear()
        # Whatever is still locked by this bus was not acked: give it back.
        await self._call(lambda store: store.unregister(self._token))
        await self._call(lambda store: store.close())
        self._store = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def subscribe(self, sub: Subscription) -> None:
        self._subscriptions.append(sub)
        if self._started:
            # Declared in the background; tracked so that close() waits for it.
            task = asyncio.create_task(self._start_consumer(sub))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
            self._declaring.add(task)
            task.add_done_callback(self._declaring.discard)

    async def declared(self) -> None:
        if self._declaring:
            await asyncio.gather(*self._declaring)

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        if not envelopes:
            return
        messages = [(envelope.type, encode(envelope)) for envelope in envelopes]
        await self._call(lambda store: store.publish(messages))
        self._wake_all()

    async def ping(self) -> None:
        await self._call(lambda store: store.ping())

    async def dead_letters(self, group: str, event_type: str) -> list[DeadLetter]:
        dead_queue = dead_queue_name(self._settings.queue_prefix, group, event_type)
        rows = await self._call(lambda store: store.dead_letters(dead_queue))
        return [DeadLetter(body, reason, deliveries) for body, reason, deliveries in rows]

    async def delete_topology(self) -> None:
        await self._call(lambda store: store.drop())

    async def _call(self, operation: Callable[[SqliteStore], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-bus")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, functools.partial(self._in_thread, operation)
            )
        except sqlite3.Error as exc:
            raise Unavailable(f"memory bus {self._path.name}: {exc}") from exc

    def _in_thread(self, operation: Callable[[SqliteStore], T]) -> T:
        if self._store is None:
            self._store = SqliteStore(self._path)
        return operation(self._store)

    async def _reap(self) -> None:
        now = time.time()
        released = await self._call(lambda store: store.reap(self._host, now, self._owner_timeout))
        if released:
            log.warning("bus.reclaimed", count=released)
            self._wake_all()

    async def _beat(self) -> None:
        interval = max(self._owner_timeout / 5, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._call(functools.partial(_heartbeat, bus=self, now=time.time()))
                await self._reap()
            except Exception:
                log.exception("bus.heartbeat_failed")

    def _wake_all(self) -> None:
        for waker in list(_WAKERS.get(self._key, ())):
            waker.wake()

    async def _start_consumer(self, sub: Subscription) -> None:
        prefix = self._settings.queue_prefix
        if sub.broadcast:
            queue = broadcast_queue_name(prefix, sub.group, sub.event_type, self._instance)
            owner: str | None = self._token
        else:
            queue = queue_name(prefix, sub.group, sub.event_type)
            owner = None
        await self._call(lambda store: store.declare(queue, sub.event_type, owner))
        waker = _Waker()
        self._wakers.append(waker)
        _WAKERS.setdefault(self._key, weakref.WeakSet()).add(waker)
        consumer = _Consumer(self, sub, queue, waker)
        task = asyncio.create_task(consumer.run(), name=f"bus-consumer-{queue}")
        self._consumers.add(task)
        log.info("bus.consuming", queue=queue)


def _heartbeat(store: SqliteStore, *, bus: MemoryBus, now: float) -> None:
    store.heartbeat(bus._token, bus._host, os.getpid(), now)


class _Consumer:
    """Claims up to ``prefetch`` messages of one queue and runs handler calls for them."""

    def __init__(self, bus: MemoryBus, sub: Subscription, queue: str, waker: _Waker) -> None:
        self._bus = bus
        self._sub = sub
        self._queue = queue
        self._dead_queue = dead_queue_name(bus._settings.queue_prefix, sub.group, sub.event_type)
        self._waker = waker
        self._prefetch = prefetch_of(bus._settings, sub)
        self._unacked = 0
        self._freed = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A broken poll must not end consumption; the next one may well work.
                log.exception("bus.consume_failed", queue=self._queue)
                await asyncio.sleep(self._bus._poll_interval)

    async def _step(self) -> None:
        while self._unacked >= self._prefetch:
            self._freed.clear()
            await self._freed.wait()
        limit = min(self._sub.batch_size, self._prefetch - self._unacked)
        self._waker.event.clear()
        claimed = await self._claim(limit)
        if not claimed:
            try:
                async with asyncio.timeout(self._bus._poll_interval):
                    await self._waker.event.wait()
            except TimeoutError:
                pass
            return
        if len(claimed) < limit and self._sub.batch_wait > 0:
            await asyncio.sleep(self._sub.batch_wait)
            claimed += await self._claim(limit - len(claimed))
        self._unacked += len(claimed)
        task = asyncio.create_task(self._handle(claimed))
        self._bus._handlers.add(task)
        task.add_done_callback(self._bus._handlers.discard)

    async def _claim(self, limit: int) -> list[ClaimedMessage]:
        token, queue = self._bus._token, self._queue
        return await self._bus._call(lambda store: store.claim(queue, token, limit))

    async def _handle(self, claimed: list[ClaimedMessage]) -> None:
        try:
            deliveries = [_MemoryDelivery(self._bus, self._dead_queue, m) for m in claimed]
            settings = self._bus._settings
            await dispatch(
                self._sub,
                deliveries,
                settings.max_deliveries,
                retry_unavailable_s=settings.retry_unavailable_s,
            )
        finally:
            self._unacked -= len(claimed)
            self._freed.set()


@dataclass
class _MemoryDelivery:
    bus: MemoryBus
    dead_queue: str
    message: ClaimedMessage

    @property
    def body(self) -> bytes:
        return self.message.body

    @property
    def attempt(self) -> int:
        return self.message.deliveries

    async def ack(self) -> None:
        message_id = self.message.id
        await self.bus._call(lambda store: store.ack(message_id))

    async def retry(self, reason: str) -> None:
        message_id = self.message.id
        await self.bus._call(lambda store: store.release(message_id))
        self.bus._wake_all()

    async def dead_letter(self, reason: str) -> None:
        message_id, dead_queue = self.message.id, self.dead_queue
        await self.bus._call(lambda store: store.dead_letter(message_id, dead_queue, reason))
