"""The message bus: topic-routed, at-least-once event delivery with dead letters.

``create_bus(url, …)`` picks the implementation: :class:`MemoryBus` (one SQLite file, for
embedded mode and tests) or :class:`RabbitBus` (RabbitMQ quorum queues).
"""

from wildlens.common.bus.base import DEFAULT_CLOSE_GRACE, Bus, DeadLetter, Handler, Subscription
from wildlens.common.bus.factory import create_bus
from wildlens.common.bus.memory import MemoryBus
from wildlens.common.bus.rabbitmq import RabbitBus

__all__ = [
    "DEFAULT_CLOSE_GRACE",
    "Bus",
    "DeadLetter",
    "Handler",
    "MemoryBus",
    "RabbitBus",
    "Subscription",
    "create_bus",
]
