"""``observations.changed``: a medium an expert judged stops going to volunteers (its
subjects become gold standard); changes the volunteers' own consensus caused are ignored."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.volunteers import service
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.observations_pb2 import ChangeCause, ObservationsChanged
from wildlens.common.service import ServiceContext

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "observations.changed"
BATCH_SIZE = 32


def _expert_names(event: ObservationsChanged) -> list[str]:
    """What the expert said: the current labels people gave or validated, not volunteers'."""
    return [
        label.scientific_name
        for label in event.labels
        if not label.classified_by.startswith("volunteers:")
        and (label.classification_method == "human" or label.verification_state == "validated")
    ]


async def handle(session: AsyncSession, event: ObservationsChanged) -> None:
    if event.cause == ChangeCause.CHANGE_CAUSE_VOLUNTEER_CONSENSUS:
        return
    if event.verification_state != "verified":
        return
    await service.expert_validated(
        session, uuid.UUID(event.project_id), uuid.UUID(event.media_id), _expert_names(event)
    )


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    async with ctx.unit_of_work(EVENT_TYPE, envelopes) as (session, fresh):
        for envelope in fresh:
            await handle(session, unpack(envelope, ObservationsChanged))
