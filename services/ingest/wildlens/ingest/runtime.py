"""What an ingest replica keeps while it runs: the loader that keeps its list of revoked
tokens current, the upload rate limit's buckets, and when it last purged expired idempotency
keys."""

from __future__ import annotations

from dataclasses import dataclass

from wildlens.common.service import ServiceContext
from wildlens.ingest.ratelimit import TokenBuckets
from wildlens.ingest.revocation import RevocationLoader, start_loader
from wildlens.ingest.settings import IngestSettings

__all__ = ["IngestRuntime"]


@dataclass
class IngestRuntime:
    revocations: RevocationLoader
    # Per device token, per replica (see ``ratelimit``).
    upload_limits: TokenBuckets
    # Monotonic seconds of this replica's last purge of expired idempotency keys.
    idempotency_purged_at: float = 0.0

    @classmethod
    async def start(cls, ctx: ServiceContext) -> IngestRuntime:
        limits = IngestSettings.of(ctx.settings)
        buckets = TokenBuckets(
            per_minute=limits.rate_limit_per_minute, burst=limits.rate_limit_burst
        )
        return cls(await start_loader(ctx), buckets)

    async def close(self) -> None:
        await self.revocations.stop()
