"""The observations domain's rules as the routes call them: one observation or a whole event
judged, corrected or reverted (each change kept, the event's label smoothed again), an
observation's history, and the review queue a page at a time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.models import Observation
from wildlens.catalogue.observations import repository
from wildlens.catalogue.observations.announcements import (
    ChangeCause,
    stage_observations_changed,
)
from wildlens.catalogue.observations.candidates import candidates_page
from wildlens.catalogue.observations.current import current_observations
from wildlens.catalogue.observations.review import review_queue
from wildlens.catalogue.observations.review_scores import refresh_for_page
from wildlens.catalogue.observations.schemas import (
    ConsensusProvenance,
    Correction,
    Labelling,
    ObservationChangePublic,
    ObservationState,
    ReviewItem,
)
from wildlens.catalogue.observations.smoothing import smooth_events_of
from wildlens.catalogue.observations.verification import (
    Change,
    apply_to,
    correction,
    revert,
    state_change,
)
from wildlens.common.db import Database
from wildlens.common.errors import NotFound
from wildlens.common.http import Page, PageParams
from wildlens.common.service import ServiceBus

__all__ = [
    "Judgement",
    "candidates_page",
    "correct",
    "correct_event",
    "correct_selection",
    "history_page",
    "judge",
    "judge_event",
    "judge_selection",
    "label_medium",
    "observation_state",
    "revert_to",
    "review_page",
]

# What a person can say of a label without changing it, and the state each leaves it in.
Judgement = Literal["validate", "dubious", "discard"]
_STATES: dict[Judgement, str] = {
    "validate": "validated",
    "dubious": "dubious",
    "discard": "discarded",
}
# Labels a species decision concerns; an event-wide correction leaves people and vehicles be.
_SPECIES_TYPES = {"animal", "unknown", "unclassified"}


async def _observation(
    session: AsyncSession, project_id: uuid.UUID, observation_id: uuid.UUID
) -> Observation:
    observation = await repository.get_observation(session, observation_id)
    if observation is None or observation.project_id != project_id:
        raise NotFound(f"observation {observation_id} not found")
    return observation


def _state(
    o: Observation, version: int, consensus: ConsensusProvenance | None = None
) -> ObservationState:
    return ObservationState.from_row(o, version=version, consensus=consensus)


async def _resmooth(
    session: AsyncSession, bus: ServiceBus, observations: list[Observation], changed_by: str
) -> None:
    # A person's label counts above the machine's in the event's smoothed label.
    ids = {o.media_id for o in observations if o.media_id is not None}
    if ids:
        await smooth_events_of(session, await repository.media_by_ids(session, ids))
        await stage_observations_changed(
            session, bus, ids, ChangeCause.CHANGE_CAUSE_EXPERT, changed_by=changed_by
        )


async def _one(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    observation_id: uuid.UUID,
    action: str,
    change: Change,
) -> ObservationState:
    observation = await _observation(session, access.project.id, observation_id)
    # Concurrent changes to one observation take turns (each its own history version).
    await repository.lock_observations(session, [observation.id])
    new = await apply_to(session, [observation], action, change, access.principal.subject)
    await _resmooth(session, bus, [observation], access.principal.subject)
    return _state(observation, new[observation.id])


async def _event(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    event_id: uuid.UUID,
    action: str,
    change: Change,
    *,
    species_only: bool = False,
) -> list[ObservationState]:
    media_ids = await repository.event_media_ids(session, access.project.id, event_id)
    if not media_ids:
        raise NotFound(f"event {event_id} not found")
    by_media: dict[uuid.UUID | None, list[Observation]] = {}
    # Locked before they are judged: a change to one of them at the same time waits.
    for o in await repository.lock_observations_of_media(session, media_ids):
        by_media.setdefault(o.media_id, []).append(o)
    targets = [o for group in by_media.values() for o in current_observations(group)]
    if species_only:
        targets = [o for o in targets if o.observation_type in _SPECIES_TYPES]
    new = await apply_to(session, targets, action, change, access.principal.subject)
    await _resmooth(session, bus, targets, access.principal.subject)
    return [_state(o, new[o.id]) for o in targets]


async def _selection(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    observation_ids: list[uuid.UUID],
    action: str,
    change: Change,
) -> tuple[int, int]:
    """Make ``change`` to those of the observations that make their medium's label now, each
    change in their history, their media announced once; (observations judged, changed)."""
    if not observation_ids:
        return 0, 0
    # Locked before they are judged, with their media's other observations: a change to
    # one at the same time waits.
    wanted = set(observation_ids)
    held = await repository.lock_with_their_media(session, wanted)
    locked = [o for o in held if o.id in wanted]
    by_media: dict[uuid.UUID | None, list[Observation]] = {}
    for o in sorted(held, key=lambda o: (str(o.media_id), str(o.id))):
        if o.media_id is not None:
            by_media.setdefault(o.media_id, []).append(o)
    current = {o.id for group in by_media.values() for o in current_observations(group)}
    targets = [o for o in locked if o.media_id is None or o.id in current]
    before = dict(await repository.versions(session, [o.id for o in targets]))
    new = await apply_to(session, targets, action, change, access.principal.subject)
    changed = [o for o in targets if new[o.id] != before.get(o.id, 0)]
    await _resmooth(session, bus, changed, access.principal.subject)
    return len(targets), len(changed)


async def judge_selection(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    observation_ids: list[uuid.UUID],
    action: Judgement,
) -> tuple[int, int]:
    """Validate, doubt or discard every current observation among ``observation_ids``."""
    change = state_change(_STATES[action])
    return await _selection(session, bus, access, observation_ids, action, change)


async def correct_selection(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    observation_ids: list[uuid.UUID],
    body: Correction,
    *,
    category: str | None = None,
) -> tuple[int, int]:
    """Correct every current observation among ``observation_ids`` at once; ``category``,
    where given, is what their category becomes (a morphological one, or an animal)."""
    correct_one = await correction(session, body)

    def change(o: Observation, actor: str, now: datetime) -> None:
        correct_one(o, actor, now)
        if category is not None:
            o.category = category

    return await _selection(session, bus, access, observation_ids, "correct", change)


async def observation_state(
    session: AsyncSession, project_id: uuid.UUID, observation_id: uuid.UUID
) -> ObservationState:
    """The observation with its verification state and its number of changes."""
    observation = await _observation(session, project_id, observation_id)
    version = (await repository.versions(session, [observation.id]))[observation.id]
    provenance = (await repository.consensus_of(session, [observation.id])).get(observation.id)
    consensus = (
        ConsensusProvenance.model_validate(provenance, from_attributes=True)
        if provenance is not None
        else None
    )
    return _state(observation, version, consensus)


async def history_page(
    session: AsyncSession,
    project_id: uuid.UUID,
    observation_id: uuid.UUID,
    page: PageParams,
) -> Page[ObservationChangePublic]:
    """The observation's changes after the page's cursor, oldest first."""
    await _observation(session, project_id, observation_id)
    rows, next_cursor = await repository.changes_page(session, observation_id, page)
    return Page(
        items=[ObservationChangePublic.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=next_cursor,
    )


async def judge(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    observation_id: uuid.UUID,
    action: Judgement,
) -> ObservationState:
    """Validate, doubt or discard one observation."""
    change = state_change(_STATES[action])
    return await _one(session, bus, access, observation_id, action, change)


async def correct(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    observation_id: uuid.UUID,
    body: Correction,
) -> ObservationState:
    """Correct one observation; its label becomes the person's, validated."""
    change = await correction(session, body)
    return await _one(session, bus, access, observation_id, "correct", change)


async def revert_to(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    observation_id: uuid.UUID,
    version: int,
) -> ObservationState:
    """Bring the observation back to an earlier version of its history."""
    observation = await _observation(session, access.project.id, observation_id)
    await repository.lock_observations(session, [observation.id])
    new = await revert(session, observation, version, access.principal.subject)
    await _resmooth(session, bus, [observation], access.principal.subject)
    return _state(observation, new[observation.id])


async def judge_event(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    event_id: uuid.UUID,
    action: Judgement,
) -> list[ObservationState]:
    """Validate, doubt or discard the current observations of every medium of the event."""
    return await _event(session, bus, access, event_id, action, state_change(_STATES[action]))


async def correct_event(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    event_id: uuid.UUID,
    body: Correction,
) -> list[ObservationState]:
    """Correct the current species labels of every medium of the event at once."""
    change = await correction(session, body)
    return await _event(session, bus, access, event_id, "correct", change, species_only=True)


async def label_medium(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    media_id: uuid.UUID,
    body: Labelling,
) -> ObservationState:
    """A person's own observation on a medium (one no detector analysed, say): theirs, and
    validated, with its history from the start."""
    medium = next(iter(await repository.media_by_ids(session, [media_id])), None)
    if medium is None or medium.project_id != access.project.id:
        raise NotFound(f"medium {media_id} not found")
    observation = Observation(
        project_id=medium.project_id,
        media_id=medium.id,
        deployment_id=medium.deployment_id,
        observation_level="media",
        # Blank until the label below, which the history records as the first change.
        observation_type="",
        category="",
        classification_method="human",
        event_start=medium.captured_at,
        event_end=medium.captured_at,
        count=1,
    )
    if body.bbox is not None:
        box = body.bbox
        observation.bbox_x, observation.bbox_y, observation.bbox_width, observation.bbox_height = (
            box
        )
    session.add(observation)
    await session.flush()
    change = await correction(session, body)
    new = await apply_to(session, [observation], "label", change, access.principal.subject)
    observation.category = (observation.scientific_name or observation.observation_type)[:50]
    session.add(observation)
    await _resmooth(session, bus, [observation], access.principal.subject)
    return _state(observation, new[observation.id])


async def review_page(
    db: Database, session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> Page[ReviewItem]:
    """The review queue's page after the page's cursor."""
    # The media changed since the last refresh, scored afresh and committed first, or, when
    # another refresh holds the project, left out of the page until it is done: either way
    # every medium shown is scored as its explanation says.
    await refresh_for_page(db, project_id)
    items, next_cursor = await review_queue(session, project_id, page)
    return Page(items=items, next_cursor=next_cursor)
