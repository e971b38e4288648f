"""What every bus offers: subscriptions, publishing with confirms, dead letters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from wildlens.common.events.envelope import Envelope
from wildlens.common.settings import BrokerSettings

__all__ = [
    "DEFAULT_CLOSE_GRACE",
    "Bus",
    "DeadLetter",
    "Handler",
    "Subscription",
    "broadcast_queue_name",
    "dead_queue_name",
    "prefetch_of",
    "queue_name",
]

Handler = Callable[[list[Envelope]], Awaitable[None]]

# Seconds close() lets running handlers finish before cancelling them; their messages are
# then redelivered, so a short grace costs a duplicate, never a loss.
DEFAULT_CLOSE_GRACE = 10.0


@dataclass(frozen=True)
class Subscription:
    """One consuming service's interest in one event type.

    Args:
        group: the consuming service (part of the queue name); instances of a group compete.
        event_type: the routing key, e.g. ``media.ingested``.
        handler: called with up to ``batch_size`` envelopes; returning acks them all.
        broadcast: every running instance gets its own transient queue and hears every event.
        batch_size: the most envelopes handed to one handler call.
        batch_wait: seconds to wait for a batch to fill once its first message arrived.
    """

    group: str
    event_type: str
    handler: Handler
    broadcast: bool = False
    batch_size: int = 1
    batch_wait: float = 0.05

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.batch_wait < 0:
            raise ValueError("batch_wait must not be negative")


def prefetch_of(settings: BrokerSettings, sub: Subscription) -> int:
    """The most unacked messages a subscription holds: the broker setting, raised to the
    subscription's batch size so that a handler built for large batches gets them."""
    return max(settings.prefetch, sub.batch_size)


@dataclass(frozen=True)
class DeadLetter:
    """A message given up on: its raw bytes, why, and how often it was delivered."""

    envelope_bytes: bytes
    reason: str
    deliveries: int


def queue_name(prefix: str, group: str, event_type: str) -> str:
    return f"{prefix}{group}.{event_type}"


def dead_queue_name(prefix: str, group: str, event_type: str) -> str:
    return f"{queue_name(prefix, group, event_type)}.dead"


def broadcast_queue_name(prefix: str, group: str, event_type: str, instance: str) -> str:
    return f"{queue_name(prefix, group, event_type)}.{instance}"


class Bus(ABC):
    """Topic-routed, at-least-once event delivery.

    A message published with type ``T`` reaches every queue bound to ``T``: one durable queue
    per (group, type), shared by the group's instances, plus one transient queue per instance
    for broadcast subscriptions. A handler that raises gets the message again; after
    ``max_deliveries`` attempts, or at once for bytes that are no envelope, the message moves
    to the group's dead-letter queue with the reason.
    """

    @abstractmethod
    async def start(self) -> None:
        """Connect, declare the topology and start consuming what was subscribed so far."""

    @abstractmethod
    async def close(self, *, grace: float = DEFAULT_CLOSE_GRACE) -> None:
        """Stop consuming, wait up to ``grace`` seconds for running handlers, then close.

        Handlers still running after that are cancelled and their messages redelivered.
        """

    @abstractmethod
    def subscribe(self, sub: Subscription) -> None:
        """Consume ``sub`` from ``start()`` on, or at once when the bus is already started.

        On a started bus the queue is declared in the background; await :meth:`declared`
        before publishing what the new subscription must hear.
        """

    @abstractmethod
    async def declared(self) -> None:
        """Return once every subscription made so far has its queue declared and consuming."""

    @abstractmethod
    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Return once the broker has durably accepted every envelope."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise :class:`wildlens.common.errors.Unavailable` when the broker does not answer."""

    @abstractmethod
    async def dead_letters(self, group: str, event_type: str) -> list[DeadLetter]:
        """What was dead-lettered for the group's queue of that type, left in place."""

    @abstractmethod
    async def delete_topology(self) -> None:
        """Remove every queue and exchange (memory bus: every table) this bus declared."""
