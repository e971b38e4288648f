"""What an ingest replica keeps while it runs: the loader that keeps its list of revoked
tokens current, the upload rate limit's buckets, and its schedule for purging expired
idempotency keys.

The routes take these parts one by one (``deps``), so the domains never import this module."""

from __future__ import annotations

from dataclasses import dataclass, field

from wildlens.common.service import ServiceContext
from wildlens.ingest.key_expiry import KeyExpiry
from wildlens.ingest.ratelimit import TokenBuckets
from wildlens.ingest.revocation import RevocationLoader, start_loader
from wildlens.ingest.settings import IngestSettings

__all__ = ["IngestRuntime"]


@dataclass
class IngestRuntime:
    revocations: RevocationLoader
    # Per device token, per replica (see ``ratelimit``).
    upload_limits: TokenBuckets
    key_expiry: KeyExpiry = field(default_factory=KeyExpiry)

    @classmethod
    async def start(cls, ctx: ServiceContext) -> IngestRuntime:
        limits = IngestSettings.of(ctx.settings)
        buckets = TokenBuckets(
            per_minute=limits.rate_limit_per_minute, burst=limits.rate_limit_burst
        )
        return cls(await start_loader(ctx), buckets)

    async def close(self) -> None:
        await self.revocations.stop()
