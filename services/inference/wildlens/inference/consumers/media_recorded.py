"""``media.recorded``: detect (and classify) a batch of recorded media and publish each result
as ``media.analyzed``. Subscribed once a detector or a classifier serves (a classifier alone
analyses single objects): until then media stay 'recorded' (a durable queue declared earlier
keeps what arrives meanwhile; else a backfill analyses them)."""

from __future__ import annotations

from collections.abc import Sequence

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.media_pb2 import MediaRecorded
from wildlens.common.service import ServiceContext
from wildlens.inference.runtime import InferenceRuntime

__all__ = ["EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "media.recorded"


async def handle(runtime: InferenceRuntime, events: Sequence[MediaRecorded]) -> None:
    await runtime.analyzer.analyze_recorded(events)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    events = [unpack(envelope, MediaRecorded) for envelope in envelopes]
    await handle(ctx.runtime_as(InferenceRuntime), events)
