"""The delivery worker: drains queued webhooks, signs and sends them, retries failures with
exponential backoff, and logs every attempt.

Deliveries live in the database, so a restart loses nothing: pending ones are picked up when
the next worker starts. A worker leases the rows it sends (their next attempt moves past the
send's timeout), so replicas never send the same delivery at once, and a worker that dies
mid-send only delays it by the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.alerts import repository
from wildlens.catalogue.alerts.matching import EVENT_TYPE
from wildlens.catalogue.alerts.signing import SIGNATURE_HEADER, sign
from wildlens.catalogue.alerts.targets import Target, TargetPolicy, TargetRefused
from wildlens.catalogue.models import DeliveryAttempt
from wildlens.common.db import Database, utcnow

__all__ = ["DeliveryWorker", "RetryPolicy"]

log = structlog.get_logger(__name__)

USER_AGENT = "Wildlens-Webhooks/1"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base_s``, twice that, four times, ... up to ``max_delay_s``,
    each stretched by up to ``jitter`` so that many failed deliveries do not return together.
    The defaults keep trying for about 35 minutes, over 12 attempts."""

    max_attempts: int = 12
    base_s: float = 1.0
    max_delay_s: float = 900.0
    jitter: float = 0.2
    timeout_s: float = 10.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        raw = min(self.max_delay_s, self.base_s * 2.0 ** (attempts - 1))
        return raw * (1 + random.random() * self.jitter)  # jitter, not secrecy


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    number: int
    body: str
    url: str
    secret: str


@dataclass(frozen=True)
class _Result:
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def post_to(
    client: httpx.AsyncClient, target: Target, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST ``body`` to one of ``target``'s checked addresses, in the order they resolved
    (the next when one refuses the connection), never to an address looked up afresh.

    The URL names the address; the name stays in ``Host`` and, for https, in TLS's server
    name, so that the receiver's virtual host and certificate are the name's.
    """
    extensions = {}
    if target.scheme == "https" and not target.name_is_address:
        extensions["sni_hostname"] = target.host
    sent = {**headers, "Host": target.host_header}
    failed: httpx.ConnectError | None = None
    for address in target.addresses:
        url = httpx.URL(target.url).copy_with(host=str(address))
        try:
            return await client.post(url, content=body, headers=sent, extensions=extensions)
        except httpx.ConnectError as exc:
            failed = exc
    assert failed is not None  # a target has at least one address
    raise failed


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        *,
        policy: RetryPolicy | None = None,
        batch: int = 20,
        idle_s: float = 5.0,
        targets: TargetPolicy | None = None,
    ) -> None:
        self._db = db
        self._targets = targets or TargetPolicy()
        self.policy = policy or RetryPolicy()
        self._batch = batch
        self._idle_s = idle_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def kick(self) -> None:
        """Look for due deliveries now (called after commits that queued some)."""
        self._wake.set()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.policy.timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            # No proxy from the environment: a proxy would resolve the name again itself, and
            # the address checked would no longer be the one reached.
            trust_env=False,
        )
        self._task = asyncio.create_task(self._run(), name="alert-deliveries")

    async def close(self) -> None:
        """Stop after the sends in flight (bounded by their timeout), so that their outcome is
        recorded rather than left leased until the lease runs out."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(self._task, timeout=self.policy.timeout_s + 5)
            except (TimeoutError, asyncio.CancelledError):
                pass
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                while not self._stopping and await self.deliver_due() > 0:
                    pass
                wait = await self._until_next_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away for a moment; try again
                log.warning("alerts.delivery_loop_failed", error=str(exc))
                wait = self._idle_s
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _until_next_due(self) -> float:
        async with self._db.transaction() as session:
            next_due = await repository.next_due(session)
        if next_due is None:
            return self._idle_s
        return max(0.05, min(self._idle_s, (next_due - utcnow()).total_seconds()))

    async def deliver_due(self) -> int:
        """Send one batch of due deliveries; returns how many were attempted."""
        claimed = await self._claim()
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._send(c) for c in claimed))
        async with self._db.transaction() as session:
            for delivery, result in zip(claimed, results, strict=True):
                await self._record(session, delivery, result)
        return len(claimed)

    async def _claim(self) -> list[_Claimed]:
        now = utcnow()
        lease = now + timedelta(seconds=self.policy.timeout_s * 3 + 30)
        async with self._db.transaction() as session:
            due = await repository.due_deliveries(
                session,
                now,
                limit=self._batch,
                # Replicas share the table; each takes rows no other worker holds.
                skip_locked=self._db.dialect == "postgresql",
            )
            claimed = []
            for delivery, rule in due:
                delivery.next_attempt_at = lease
                session.add(delivery)
                claimed.append(
                    _Claimed(
                        delivery.id,
                        delivery.attempts + 1,
                        delivery.body,
                        rule.webhook_url,
                        rule.secret,
                    )
                )
        return claimed

    async def _send(self, delivery: _Claimed) -> _Result:
        assert self._client is not None
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "Wildlens-Event": EVENT_TYPE,
            "Wildlens-Delivery": str(delivery.id),
            "Wildlens-Attempt": str(delivery.number),
            # Signed afresh for every attempt: the timestamp is part of what is signed.
            SIGNATURE_HEADER: sign(delivery.secret, body),
        }
        started_at, start = utcnow(), time.perf_counter()
        # Checked again at each attempt: the host may resolve elsewhere than when the rule
        # was saved; and sent to the addresses just checked, not looked up again.
        try:
            target = await self._targets.target(delivery.url)
        except TargetRefused as exc:
            return _Result(started_at, (time.perf_counter() - start) * 1000, None, str(exc))
        try:
            response = await post_to(self._client, target, body, headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}".strip()
            return _Result(started_at, (time.perf_counter() - start) * 1000, None, error[:2000])
        error = "" if response.is_success else f"HTTP {response.status_code}: {response.text[:500]}"
        return _Result(
            started_at, (time.perf_counter() - start) * 1000, response.status_code, error
        )

    async def _record(self, session: AsyncSession, claimed: _Claimed, result: _Result) -> None:
        delivery = await repository.delivery(session, claimed.id)
        if delivery is None:
            return  # its rule was deleted meanwhile
        delivery.attempts = claimed.number
        if result.ok:
            outcome = delivery.status = "delivered"
            delivery.delivered_at = utcnow()
            delivery.last_error = ""
        elif claimed.number >= self.policy.max_attempts:
            outcome = delivery.status = "failed"
            delivery.last_error = result.error
        else:
            outcome = "retry"
            delivery.last_error = result.error
            delivery.next_attempt_at = utcnow() + timedelta(
                seconds=self.policy.delay(claimed.number)
            )
        session.add(delivery)
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                number=claimed.number,
                started_at=result.started_at,
                duration_ms=round(result.duration_ms, 2),
                status_code=result.status_code,
                error=result.error,
                outcome=outcome,
            )
        )
        log.info(
            "alerts.delivery_attempt",
            delivery_id=str(delivery.id),
            attempt=claimed.number,
            status_code=result.status_code,
            outcome=outcome,
        )
