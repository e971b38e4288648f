"""The token ids one process refuses although their signature is still good.

Tokens are verified with the public key alone, so withdrawing one before it expires needs a
list every verifying process keeps. An entry is needed only until the token expires: after
that the signature check refuses it anyway, so entries are dropped then and the list stays as
small as the number of revoked tokens still in their lifetime.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from datetime import datetime

__all__ = ["RevocationList"]

# Entries outlive their token's expiry by this much, so that a verifier whose clock runs
# behind the issuer's does not accept a revoked token in the moments before it would call it
# expired itself.
CLOCK_SKEW_S = 60.0


class RevocationList:
    """Revoked token ids, each kept until its token would have expired.

    Args:
        clock: seconds since the epoch; tests pass their own.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}

    def add(self, token_id: str, expires_at: datetime | float | None = None) -> None:
        """Refuse ``token_id`` from now on; ``expires_at`` is when the token expires (``None``:
        unknown, kept for as long as the process runs)."""
        if isinstance(expires_at, datetime):
            until = expires_at.timestamp() + CLOCK_SKEW_S
        elif expires_at is None:
            until = math.inf
        else:
            until = float(expires_at) + CLOCK_SKEW_S
        if until <= self._clock():
            return
        # A token may be reported more than once (a broadcast and a start-up load); the later
        # of two expiries is the safe one to keep.
        self._until[token_id] = max(until, self._until.get(token_id, until))
        # Revocations are rare, so sweeping on each one is cheap and bounds the list.
        self.prune()

    def prune(self) -> int:
        """Drop entries whose token has expired; returns how many went."""
        now = self._clock()
        expired = [token_id for token_id, until in self._until.items() if until <= now]
        for token_id in expired:
            del self._until[token_id]
        return len(expired)

    def __contains__(self, token_id: object) -> bool:
        if not isinstance(token_id, str):
            return False
        until = self._until.get(token_id)
        return until is not None and until > self._clock()

    def __len__(self) -> int:
        return len(self._until)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._until))
