"""What the catalogue keeps while it runs: the workers that send alert webhooks, fold changes
into the statistics summaries and run exports, and the verifier of identity providers' tokens
(it keeps their keys between requests)."""

from __future__ import annotations

from dataclasses import dataclass

from wildlens.catalogue.alerts.delivery import DeliveryWorker
from wildlens.catalogue.exchange.jobs import ExportWorker
from wildlens.catalogue.settings import AlertSettings
from wildlens.catalogue.statistics.summaries import SummaryRefresher
from wildlens.common.auth import ExternalVerifier
from wildlens.common.service import ServiceContext

__all__ = ["CatalogueRuntime"]


@dataclass
class CatalogueRuntime:
    deliveries: DeliveryWorker
    summaries: SummaryRefresher
    exports: ExportWorker
    verifier: ExternalVerifier

    @classmethod
    async def start(cls, ctx: ServiceContext) -> CatalogueRuntime:
        db = ctx.database
        # Alert webhooks go out from the delivery table, woken by the commits that queue them.
        deliveries = DeliveryWorker(
            db, allow_private_targets=AlertSettings.of(ctx.settings).allow_private_targets
        )
        db.on_commit(deliveries.kick)
        await deliveries.start()
        # Statistics read per-minute summaries; changes are folded in between requests too.
        summaries = SummaryRefresher(db)
        await summaries.start()
        # Export jobs are rows; this process's worker takes queued ones, and those whose
        # process died.
        exports = ExportWorker(ctx)
        exports.start()
        return cls(deliveries, summaries, exports, ExternalVerifier(ctx.settings.auth))

    async def close(self) -> None:
        """Hand running exports back and stop the workers, the reverse of ``start``."""
        await self.exports.stop()
        await self.summaries.close()
        await self.deliveries.close()
