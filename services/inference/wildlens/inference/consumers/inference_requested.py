"""``inference.requested``: one page of a backfill analysed, and the request handed on for the
next page."""

from __future__ import annotations

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.inference_pb2 import InferenceRequested
from wildlens.common.service import ServiceContext
from wildlens.inference.runtime import InferenceRuntime

__all__ = ["EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "inference.requested"


async def handle(runtime: InferenceRuntime, request: InferenceRequested) -> int:
    """Analyse one page of the request's media; answers how many were analysed."""
    return await runtime.backfiller.run(request)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    runtime = ctx.runtime_as(InferenceRuntime)
    for envelope in envelopes:
        await handle(runtime, unpack(envelope, InferenceRequested))
