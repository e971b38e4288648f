"""What the catalogue keeps while it runs: the workers that send alert webhooks, fold changes
into the statistics summaries and run export and import jobs, the verifier of identity
providers' tokens (it keeps their keys between requests) and the client of GBIF's backbone
(off unless set)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from wildlens.catalogue.alerts.delivery import DeliveryWorker
from wildlens.catalogue.alerts.targets import policy_of
from wildlens.catalogue.exchange.import_worker import ImportWorker
from wildlens.catalogue.exchange.jobs import ExportWorker
from wildlens.catalogue.observations.review_scores import ReviewRefresher
from wildlens.catalogue.settings import AlertSettings, GbifSettings
from wildlens.catalogue.statistics.summaries import SummaryRefresher
from wildlens.catalogue.taxa.gbif import GbifBackbone
from wildlens.common.auth import ExternalVerifier
from wildlens.common.service import ServiceContext

__all__ = ["CatalogueRuntime"]


@dataclass
class CatalogueRuntime:
    deliveries: DeliveryWorker
    summaries: SummaryRefresher
    exports: ExportWorker
    imports: ImportWorker
    verifier: ExternalVerifier
    backbone: GbifBackbone
    reviews: ReviewRefresher

    @classmethod
    async def start(cls, ctx: ServiceContext) -> CatalogueRuntime:
        """Start the workers; where one fails to start, those already started are closed
        again before the error goes up (the platform stops only services that started)."""
        db = ctx.database
        async with contextlib.AsyncExitStack() as started:
            # Alert webhooks go out from the delivery table, woken by the commits that queue
            # them.
            deliveries = DeliveryWorker(db, targets=policy_of(AlertSettings.of(ctx.settings)))
            db.on_commit(deliveries.kick)
            await deliveries.start()
            started.push_async_callback(deliveries.close)
            # Statistics read maintained summaries; changes are folded in between requests too.
            summaries = SummaryRefresher(db)
            await summaries.start()
            started.push_async_callback(summaries.close)
            # So does the review queue.
            reviews = ReviewRefresher(db)
            await reviews.start()
            started.push_async_callback(reviews.close)
            # Export jobs are rows; this process's worker takes queued ones, and those whose
            # process died.
            exports = ExportWorker(ctx)
            exports.start()
            started.push_async_callback(exports.stop)
            # Imports ask it for the names nothing else knows; its connections are kept.
            gbif = GbifSettings.of(ctx.settings)
            backbone = GbifBackbone(
                gbif.base_url, timeout_s=gbif.timeout_s, min_confidence=gbif.min_confidence
            )
            started.push_async_callback(backbone.close)
            # Import jobs too; they resolve names as the import routes do.
            imports = ImportWorker(ctx, backbone)
            imports.start()
            started.push_async_callback(imports.stop)
            runtime = cls(
                deliveries,
                summaries,
                exports,
                imports,
                ExternalVerifier(ctx.settings.auth),
                backbone,
                reviews,
            )
            # From here on the runtime's ``close`` stops them.
            started.pop_all()
        return runtime

    async def close(self) -> None:
        """Hand running exports and imports back and stop the workers, the reverse of
        ``start``."""
        await self.imports.stop()
        await self.backbone.close()
        await self.exports.stop()
        await self.reviews.close()
        await self.summaries.close()
        await self.deliveries.close()
