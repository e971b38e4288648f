"""``model.promoted`` (a broadcast: every replica hears it): load, check and swap in each
promoted model. A bundle that fails its checks is logged and acknowledged (hearing it again
cannot fix it); storage that does not answer raises, so the promotion is delivered again."""

from __future__ import annotations

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.inference_pb2 import ModelPromoted
from wildlens.common.service import ServiceContext
from wildlens.inference.runtime import InferenceRuntime

__all__ = ["EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "model.promoted"


async def handle(runtime: InferenceRuntime, events: list[ModelPromoted]) -> None:
    await runtime.promotions.heard(events)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    events = [unpack(envelope, ModelPromoted) for envelope in envelopes]
    await handle(ctx.runtime_as(InferenceRuntime), events)
