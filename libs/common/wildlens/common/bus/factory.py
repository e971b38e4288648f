"""Choosing a bus by URL."""

from __future__ import annotations

from pathlib import Path

from wildlens.common.bus.base import Bus
from wildlens.common.bus.memory import MemoryBus
from wildlens.common.bus.rabbitmq import RabbitBus
from wildlens.common.settings import BrokerSettings

__all__ = ["create_bus"]


def create_bus(url: str, settings: BrokerSettings, *, data_dir: Path, instance: str) -> Bus:
    """Args:
    url: ``memory://`` (a SQLite file in ``data_dir``), ``memory:///abs/path.sqlite``, or
        ``amqp://host:5672/vhost`` / ``amqps://…`` (credentials come from ``settings``).
    settings: the broker settings.
    data_dir: where ``memory://`` keeps ``bus.sqlite``.
    instance: this process's name, unique among the running replicas (broadcast queues).
    """
    scheme, _, rest = url.partition("://")
    if scheme == "memory":
        path = Path(rest) if rest else data_dir / "bus.sqlite"
        return MemoryBus(path, settings, instance=instance)
    if scheme in ("amqp", "amqps"):
        return RabbitBus(url, settings, instance=instance)
    raise ValueError(f"unsupported broker URL scheme {scheme!r} (memory, amqp, amqps)")
