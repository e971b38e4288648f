"""``training.requested`` (the training workers' own queue): a job was created; this worker
looks for it now rather than at its next poll. The job's row is the queue, so hearing the
event twice, late, or for a job another worker took already changes nothing."""

from __future__ import annotations

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.training_pb2 import TrainingRequested
from wildlens.common.service import ServiceContext
from wildlens.training.runtime import TrainingRuntime

__all__ = ["EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "training.requested"


async def handle(runtime: TrainingRuntime, events: list[TrainingRequested]) -> None:
    if events and runtime.jobs is not None:
        runtime.jobs.wake()


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    events = [unpack(envelope, TrainingRequested) for envelope in envelopes]
    await handle(ctx.runtime_as(TrainingRuntime), events)
