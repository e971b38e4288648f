"""``observations.changed``: a medium an expert judged stops going to volunteers (its built-in
subjects become gold standard, its Zooniverse subjects retire there); a medium on which people
were labelled, in a project that hides people, stops going anywhere (its built-in subjects are
withdrawn, its Zooniverse subjects retire there and are never linked again); changes the
volunteers' own consensus caused are ignored."""

from __future__ import annotations

import uuid

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.people import hides_people
from wildlens.citsci.settings import CitsciSettings
from wildlens.citsci.volunteers import service
from wildlens.citsci.zooniverse import retirement
from wildlens.citsci.zooniverse import service as zooniverse
from wildlens.citsci.zooniverse.gateway import Zooniverse, ZooniverseError
from wildlens.common.errors import NotFound
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


def shows_people(event: ObservationsChanged) -> bool:
    return any(
        label.observation_type == "human" and label.verification_state != "discarded"
        for label in event.labels
    )


async def handle(
    session: AsyncSession, event: ObservationsChanged, *, people_hidden: bool = False
) -> int:
    """Apply the change; answers how many Zooniverse subjects it retired, still to be told
    there once it commits. ``people_hidden``: the event's project hides people."""
    if event.cause == ChangeCause.CHANGE_CAUSE_VOLUNTEER_CONSENSUS:
        return 0
    project_id, media_id = uuid.UUID(event.project_id), uuid.UUID(event.media_id)
    if people_hidden and shows_people(event):
        # Before the expert's judgement: a person labelled by an expert must not make the
        # medium a gold-standard subject that volunteers are still shown.
        await service.withdraw_people(session, project_id, media_id)
        return await zooniverse.withdraw_people(session, project_id, media_id)
    if event.verification_state != "verified":
        return 0
    await service.expert_validated(session, project_id, media_id, _expert_names(event))
    return await retirement.expert_validated(session, project_id, media_id)


async def _hides_people(ctx: ServiceContext, project_id: str) -> bool:
    try:
        return await hides_people(lambda: ctx.client("catalogue"), uuid.UUID(project_id))
    except NotFound:
        # The project is gone, and its subjects with it.
        return False


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    events = {envelope.event_id: unpack(envelope, ObservationsChanged) for envelope in envelopes}
    # Whether each project with people in this batch hides them, asked before the
    # transaction (the catalogue's API; an error leaves the batch for redelivery).
    hidden = {
        project_id: await _hides_people(ctx, project_id)
        for project_id in sorted({e.project_id for e in events.values() if shows_people(e)})
    }
    retired = 0
    async with ctx.unit_of_work(EVENT_TYPE, envelopes) as (session, fresh):
        for envelope in fresh:
            event = events[envelope.event_id]
            retired += await handle(
                session, event, people_hidden=hidden.get(event.project_id, False)
            )
    account = CitsciSettings.of(ctx.settings).zooniverse
    if not retired or not account.configured:
        return
    # Committed first: a failed call leaves the subjects waiting for the next pull,
    # validation or the background retry, which tell Zooniverse again.
    try:
        await retirement.retire_pending(ctx.database, Zooniverse(account))
    except ZooniverseError as e:
        log.warning("zooniverse.retire_failed", error=str(e))
