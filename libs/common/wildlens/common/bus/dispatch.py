"""Handing received messages to a subscription's handler; shared by every bus.

A transport wraps each received message in a :class:`Delivery` and calls :func:`dispatch`,
which decides per message: ack, try again later, or dead-letter.

A handler that fails because a backend does not answer (``Unavailable``: the database is
restarting, the object store is down) is not given a delivery attempt for it: the messages are
held, unacknowledged, and the handler is called again after a growing pause, for up to
``retry_unavailable_s``. An outage of minutes thus costs no message its place, where giving it
back at once would have spent every attempt within a second and dead-lettered it. Holding also
throttles the consumer: held messages fill its prefetch, so no more arrive meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import structlog

from wildlens.common.bus.base import Subscription
from wildlens.common.errors import Unavailable
from wildlens.common.events.envelope import Envelope, InvalidEnvelope, decode

__all__ = ["Delivery", "dispatch", "failure_reason"]

log = structlog.get_logger()

# Reasons end up in message headers and SQLite rows; a traceback-sized text helps nobody there.
_MAX_REASON = 2000
# Pauses between calls of a handler whose backend did not answer: short at first (a blip), then
# longer (a restart), never so long that recovery waits much on it.
_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 0.5, 10.0


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


async def dispatch(
    sub: Subscription,
    deliveries: Sequence[Delivery],
    max_deliveries: int,
    *,
    retry_unavailable_s: float = 0.0,
) -> None:
    """Decode, call the handler, and settle every delivery; never raises a handler's error.

    Args:
        retry_unavailable_s: how long a handler failing with ``Unavailable`` is called again
            (the messages held meanwhile) before its failure counts as a delivery attempt.

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
        await _call(sub, [envelope for _, envelope in decoded], retry_unavailable_s)
    except Exception as exc:
        if len(decoded) == 1 or isinstance(exc, Unavailable):
            # A backend still down is no message's fault: taking the batch apart would only
            # call the handler once more per message against the same outage.
            for delivery, _ in decoded:
                await _settle_failure(sub, delivery, exc, max_deliveries)
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
            await _handle_one(sub, delivery, envelope, max_deliveries, retry_unavailable_s)
        return
    for delivery, _ in decoded:
        await _settle_ack(sub, delivery)


async def _call(sub: Subscription, envelopes: list[Envelope], retry_unavailable_s: float) -> None:
    """Call the handler; while it fails with ``Unavailable``, again after a growing pause, for
    up to ``retry_unavailable_s`` seconds; then raise what it raised last."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + retry_unavailable_s
    pause = _FIRST_PAUSE_S
    while True:
        try:
            await sub.handler(envelopes)
            return
        except Unavailable as exc:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise
            log.warning(
                "bus.backend_unavailable",
                group=sub.group,
                event_type=sub.event_type,
                size=len(envelopes),
                error=failure_reason(exc),
                retry_in_s=round(min(pause, remaining), 2),
            )
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, _LONGEST_PAUSE_S)


async def _handle_one(
    sub: Subscription,
    delivery: Delivery,
    envelope: Envelope,
    max_deliveries: int,
    retry_unavailable_s: float,
) -> None:
    try:
        await _call(sub, [envelope], retry_unavailable_s)
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
