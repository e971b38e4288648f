"""Handing received messages to a subscription's handler; shared by every bus.

A transport wraps each received message in a :class:`Delivery` and calls :func:`dispatch`,
which decides per message: ack, try again later, or dead-letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from wildlens.common.bus.base import Subscription
from wildlens.common.events.envelope import Envelope, InvalidEnvelope, decode

__all__ = ["Delivery", "dispatch", "failure_reason"]

log = structlog.get_logger()

# Reasons end up in message headers and SQLite rows; a traceback-sized text helps nobody there.
_MAX_REASON = 2000


class Delivery(Protocol):
    """One received message, as the transport sees it."""

    @property
    def body(self) -> bytes: ...

    @property
    def attempt(self) -> int:
        """1 on the first delivery, 2 on the first redelivery, and so on."""
        ...

    async def ack(self) -> None: ...

    async def retry(self, reason: str) -> None:
        """Give the message back so that it is delivered again."""
        ...

    async def dead_letter(self, reason: str) -> None:
        """Move the message to the dead-letter queue and remove it from its queue."""
        ...


def failure_reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:_MAX_REASON]


async def dispatch(sub: Subscription, deliveries: Sequence[Delivery], max_deliveries: int) -> None:
    """Decode, call the handler, and settle every delivery; never raises a handler's error.

    Cancellation (the bus closing) propagates and leaves the deliveries unsettled, which the
    transport turns into a redelivery.
    """
    decoded: list[tuple[Delivery, Envelope]] = []
    for delivery in deliveries:
        try:
            decoded.append((delivery, decode(delivery.body)))
        except InvalidEnvelope as exc:
            # Retrying cannot make bytes decodable: no point in spending attempts on them.
            await _settle_dead(sub, delivery, failure_reason(exc))
    if not decoded:
        return
    try:
        await sub.handler([envelope for _, envelope in decoded])
    except Exception as exc:
        if len(decoded) == 1:
            await _settle_failure(sub, decoded[0][0], exc, max_deliveries)
            return
        log.warning(
            "bus.batch_failed",
            group=sub.group,
            event_type=sub.event_type,
            size=len(decoded),
            error=failure_reason(exc),
        )
        # One poison message must not take its neighbours down with it: find it alone.
        for delivery, envelope in decoded:
            await _handle_one(sub, delivery, envelope, max_deliveries)
        return
    for delivery, _ in decoded:
        await _settle_ack(sub, delivery)


async def _handle_one(
    sub: Subscription, delivery: Delivery, envelope: Envelope, max_deliveries: int
) -> None:
    try:
        await sub.handler([envelope])
    except Exception as exc:
        await _settle_failure(sub, delivery, exc, max_deliveries)
    else:
        await _settle_ack(sub, delivery)


async def _settle_failure(
    sub: Subscription, delivery: Delivery, exc: Exception, max_deliveries: int
) -> None:
    reason = failure_reason(exc)
    if delivery.attempt >= max_deliveries:
        await _settle_dead(sub, delivery, reason)
        return
    log.warning(
        "bus.handler_failed",
        group=sub.group,
        event_type=sub.event_type,
        attempt=delivery.attempt,
        error=reason,
        exc_info=exc,
    )
    try:
        await delivery.retry(reason)
    except Exception:
        # The transport lost the message (e.g. the connection dropped); the broker
        # redelivers whatever was not settled, so logging is all there is to do.
        log.exception("bus.retry_failed", group=sub.group, event_type=sub.event_type)


async def _settle_dead(sub: Subscription, delivery: Delivery, reason: str) -> None:
    log.error(
        "bus.dead_lettered",
        group=sub.group,
        event_type=sub.event_type,
        attempt=delivery.attempt,
        reason=reason,
    )
    try:
        await delivery.dead_letter(reason)
    except Exception:
        log.exception("bus.dead_letter_failed", group=sub.group, event_type=sub.event_type)


async def _settle_ack(sub: Subscription, delivery: Delivery) -> None:
    try:
        await delivery.ack()
    except Exception:
        log.exception("bus.ack_failed", group=sub.group, event_type=sub.event_type)
