"""Wiring revocations into the ingest service's start, stop and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from wildlens.common.events import Envelope
from wildlens.common.service import ServiceContext
from wildlens.common.service.clients import ServiceNotConfigured
from wildlens.ingest.revocation.consumer import apply_revocations
from wildlens.ingest.revocation.loader import RevocationLoader

log = structlog.get_logger(__name__)

STATE_KEY = "revocations"
# How long start-up waits for the first load before going on and retrying in the background:
# long enough for a catalogue that is up, short enough not to hold a replica back for long.
STARTUP_WAIT_S = 5.0


async def start_revocations(ctx: ServiceContext) -> RevocationLoader:
    """Hear ``device.revoked`` on this replica's own queue and load the revocations in force."""
    revocations = ctx.revocations

    async def on_revoked(envelopes: list[Envelope]) -> None:
        await apply_revocations(revocations, envelopes)

    ctx.consume_batches("device.revoked", on_revoked, batch_size=16, broadcast=True)

    loader = RevocationLoader(lambda: ctx.client("catalogue"), revocations)
    ctx.state[STATE_KEY] = loader
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


async def stop_revocations(ctx: ServiceContext) -> None:
    loader = ctx.state.pop(STATE_KEY, None)
    if isinstance(loader, RevocationLoader):
        await loader.stop()


async def revocation_status(ctx: ServiceContext) -> dict[str, Any]:
    loader = ctx.state.get(STATE_KEY)
    if not isinstance(loader, RevocationLoader):
        return {"loaded": False, "in_force": len(ctx.revocations)}
    return loader.status()
