"""Loading the revocations in force when an ingest replica starts."""

from __future__ import annotations

import asyncio

import structlog

from wildlens.common.service import ServiceContext
from wildlens.common.service.clients import ServiceNotConfigured
from wildlens.ingest.revocation.loader import RevocationLoader

__all__ = ["STARTUP_WAIT_S", "start_loader"]

log = structlog.get_logger(__name__)

# How long start-up waits for the first load before going on and retrying in the background:
# long enough for a catalogue that is up, short enough not to hold a replica back for long.
STARTUP_WAIT_S = 5.0


async def start_loader(ctx: ServiceContext) -> RevocationLoader:
    """Load the revocations in force into the process's list (``device.revoked`` broadcasts
    keep it current after), then reload now and then in the background."""
    loader = RevocationLoader(lambda: ctx.client("catalogue"), ctx.revocations)
    try:
        async with asyncio.timeout(STARTUP_WAIT_S):
            await loader.try_load()
    except TimeoutError:
        loader.last_error = f"the catalogue did not answer within {STARTUP_WAIT_S} s"
        log.warning("ingest.revocations_load_slow", error=loader.last_error)
    except ServiceNotConfigured as exc:
        loader.last_error = exc.detail
        log.error("ingest.revocations_unavailable", error=exc.detail)
        return loader
    loader.start()
    return loader
