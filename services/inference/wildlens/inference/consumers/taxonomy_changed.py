"""``taxonomy.changed`` (a broadcast: every replica hears it): forget the taxonomy and prior
the event names, one project's or, when the shared tree changed, everything."""

from __future__ import annotations

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.taxonomy_pb2 import TaxonomyChanged
from wildlens.common.service import ServiceContext
from wildlens.inference.runtime import InferenceRuntime

__all__ = ["EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "taxonomy.changed"


def handle(runtime: InferenceRuntime, events: list[TaxonomyChanged]) -> None:
    runtime.classification.taxonomy_changed(events)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    events = [unpack(envelope, TaxonomyChanged) for envelope in envelopes]
    handle(ctx.runtime_as(InferenceRuntime), events)
