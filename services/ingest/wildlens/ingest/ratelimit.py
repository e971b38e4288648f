"""A token bucket per device token, in memory, per replica.

A trap that wakes up after a night offline empties its buffer in a burst; a broken gateway
stuck in a retry loop posts forever. The bucket lets the first through and slows the second,
without any shared state: with N replicas a device gets at most N times the rate, which is
the point of a per-replica limit (cheap, no backend on the request path).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TokenBuckets"]

# Above this many tracked keys, buckets that have refilled completely are forgotten: a full
# bucket is what a new key gets anyway, so dropping it changes nothing but memory.
_PRUNE_ABOVE = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Buckets of ``burst`` tokens, refilled at ``per_minute`` tokens a minute, by key.

    Args:
        per_minute: the steady rate allowed.
        burst: how many requests may come at once after a quiet spell.
        clock: monotonic seconds; tests pass their own.
    """

    def __init__(
        self, *, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Take one token for ``key``: ``0`` when allowed, else the seconds until one is free."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_ABOVE:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
