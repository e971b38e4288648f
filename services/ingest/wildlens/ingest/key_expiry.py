"""When a replica deletes expired idempotency keys: after an upload that carries a key has
committed, at most once a minute, so that the table stays small without a job of its own. The
purge is a short transaction of its own (``uploads.idempotency.purge_expired_keys``), never
part of an upload's unit of work."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["KeyExpiry"]


@dataclass
class KeyExpiry:
    """One replica's schedule for purging expired keys (replicas purge independently: a purge
    twice as often changes nothing but the cost)."""

    every_s: float = 60.0
    # Monotonic seconds of this replica's last purge; ``None`` before the first.
    purged_at: float | None = None

    def purge_due(self) -> bool:
        """Whether a purge is due now; when it is, it counts as done from now on."""
        now = time.monotonic()
        if self.purged_at is not None and now - self.purged_at < self.every_s:
            return False
        self.purged_at = now
        return True
