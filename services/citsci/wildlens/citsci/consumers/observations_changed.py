"""``observations.changed``: a medium an expert judged stops going to volunteers (its built-in
subjects become gold standard, its Zooniverse subjects retire there); changes the
volunteers' own consensus caused are ignored."""

from __future__ import annotations

import uuid

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.settings import CitsciSettings
from wildlens.citsci.volunteers import service
from wildlens.citsci.zooniverse import retirement
from wildlens.citsci.zooniverse.gateway import Zooniverse, ZooniverseError
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.observations_pb2 import ChangeCause, ObservationsChanged
from wildlens.common.service import ServiceContext

__all__ = ["BATCH_SIZE", "EVENT_TYPE", "consume", "handle"]

EVENT_TYPE = "observations.changed"
BATCH_SIZE = 32

log = structlog.get_logger(__name__)


def _expert_names(event: ObservationsChanged) -> list[str]:
    """What the expert said: the current labels people gave or validated, not volunteers'."""
    return [
        label.scientific_name
        for label in event.labels
        if not label.classified_by.startswith("volunteers:")
        and (label.classification_method == "human" or label.verification_state == "validated")
    ]


async def handle(session: AsyncSession, event: ObservationsChanged) -> int:
    """Answers how many Zooniverse subjects the event retired (still to be told there)."""
    if event.cause == ChangeCause.CHANGE_CAUSE_VOLUNTEER_CONSENSUS:
        return 0
    if event.verification_state != "verified":
        return 0
    project_id, media_id = uuid.UUID(event.project_id), uuid.UUID(event.media_id)
    await service.expert_validated(session, project_id, media_id, _expert_names(event))
    return await retirement.expert_validated(session, project_id, media_id)


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    retired = 0
    async with ctx.unit_of_work(EVENT_TYPE, envelopes) as (session, fresh):
        for envelope in fresh:
            retired += await handle(session, unpack(envelope, ObservationsChanged))
    account = CitsciSettings.of(ctx.settings).zooniverse
    if not retired or not account.configured:
        return
    # Committed first: a failed call leaves the subjects waiting for the next pull or
    # validation, which tells Zooniverse again.
    try:
        await retirement.retire_pending(ctx.database, Zooniverse(account))
    except ZooniverseError as e:
        log.warning("zooniverse.retire_failed", error=str(e))
