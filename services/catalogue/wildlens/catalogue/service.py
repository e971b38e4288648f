"""The catalogue as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import models as _exchange_models  # noqa: F401
from wildlens.catalogue.media import models as _media_models  # noqa: F401  (registers tables)
from wildlens.catalogue.media.analysis import store_analysis
from wildlens.catalogue.media.recording import record_media
from wildlens.catalogue.projects import models as _project_models  # noqa: F401
from wildlens.catalogue.queries import indexes as _query_indexes  # noqa: F401
from wildlens.catalogue.sites import models as _site_models  # noqa: F401
from wildlens.catalogue.tables import metadata
from wildlens.catalogue.taxa import models as _taxa_models  # noqa: F401
from wildlens.common.events import Envelope
from wildlens.common.service import ServiceContext, ServiceSpec

# Analyses arrive as fast as inference runs; taking them in batches, one transaction each,
# is how the catalogue keeps up.
ANALYZED_BATCH = 64


def _routers() -> list[APIRouter]:
    from wildlens.catalogue.access import scoped_to_projects
    from wildlens.catalogue.auth.api import router as auth
    from wildlens.catalogue.exchange.api import router as exchange
    from wildlens.catalogue.media.api import router as media
    from wildlens.catalogue.members.api import router as members
    from wildlens.catalogue.projects.api import router as projects
    from wildlens.catalogue.queries.api import router as queries
    from wildlens.catalogue.sites.api import router as sites
    from wildlens.catalogue.taxa.api import router as taxa
    from wildlens.catalogue.taxa.project_api import router as taxonomy

    return scoped_to_projects(
        [projects, members, sites, media, auth, exchange, taxa, taxonomy, queries]
    )


async def _start(ctx: ServiceContext) -> None:
    async def on_ingested(session: AsyncSession, envelope: Envelope) -> None:
        await record_media(ctx, session, envelope)

    ctx.consume("media.ingested", on_ingested, batch_size=16)
    ctx.consume("media.analyzed", lambda s, e: store_analysis(s, e), batch_size=ANALYZED_BATCH)


def service() -> ServiceSpec:
    return ServiceSpec(
        name="catalogue",
        routers=_routers,
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        start=_start,
        uses_outbox=True,
        order=10,
    )
