"""What an ingest replica keeps while it runs: the loader that keeps its list of revoked
tokens current, the upload rate limit's buckets, its schedule for purging expired
idempotency keys, and (on worker replicas) the sweep of stored objects nothing holds.

The routes take these parts one by one (``deps``), so the domains never import this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from wildlens.common.service import ServiceContext
from wildlens.ingest.key_expiry import KeyExpiry
from wildlens.ingest.ratelimit import TokenBuckets
from wildlens.ingest.revocation import RevocationLoader, start_loader
from wildlens.ingest.settings import IngestSettings
from wildlens.ingest.sweep import OrphanSweeper

__all__ = ["IngestRuntime"]


@dataclass
class IngestRuntime:
    revocations: RevocationLoader
    # Per device token, per replica (see ``ratelimit``).
    upload_limits: TokenBuckets
    key_expiry: KeyExpiry = field(default_factory=KeyExpiry)
    sweeper: OrphanSweeper | None = None

    @classmethod
    async def start(cls, ctx: ServiceContext) -> IngestRuntime:
        limits = IngestSettings.of(ctx.settings)
        buckets = TokenBuckets(
            per_minute=limits.rate_limit_per_minute, burst=limits.rate_limit_burst
        )
        runtime = cls(await start_loader(ctx), buckets)
        if limits.run_workers:
            runtime.sweeper = OrphanSweeper(
                ctx.database,
                ctx.store,
                every_s=limits.orphan_sweep_interval_s,
                grace=timedelta(seconds=limits.orphan_grace_s),
            )
            runtime.sweeper.start()
        return runtime

    async def close(self) -> None:
        if self.sweeper is not None:
            await self.sweeper.stop()
        await self.revocations.stop()
