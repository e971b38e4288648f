"""What a service declares about each event type it handles, so that one list per service
(its ``consumers`` package) names every handler and the start hook subscribes them all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wildlens.common.events import Envelope

if TYPE_CHECKING:
    from wildlens.common.service.context import ServiceContext

__all__ = ["Consumer", "ConsumerHandler"]

# A batch as the bus delivers it; the bus acks it when the handler returns, and redelivers it
# when the handler raises.
ConsumerHandler = Callable[["ServiceContext", list[Envelope]], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    """One event type a service handles.

    Args:
        event_type: the bus event type, such as ``media.analyzed``.
        handle: the thin wrapper that decodes, opens the unit of work
            (``ServiceContext.unit_of_work``) and calls the domain.
        batch_size: how many events a delivery holds at most.
        broadcast: every replica hears every event (its own queue), rather than one of them.
    """

    event_type: str
    handle: ConsumerHandler
    batch_size: int = 1
    broadcast: bool = False
