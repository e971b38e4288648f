"""Verifying observations one at a time or a whole event at once, their history and revert."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess, require_access
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.models import Media, Observation, ObservationChange
from wildlens.catalogue.observations.current import current_observations
from wildlens.catalogue.observations.review import review_queue
from wildlens.catalogue.observations.schemas import (
    Correction,
    ObservationChangePublic,
    ObservationState,
    Revert,
    ReviewItem,
)
from wildlens.catalogue.observations.verification import (
    Change,
    apply_to,
    correction,
    revert,
    state_change,
    versions,
)
from wildlens.catalogue.sequences.smoothing import smooth_events_of
from wildlens.common.errors import Invalid, NotFound
from wildlens.common.http import ERROR_RESPONSES, Page, PrincipalDep, decode_cursor, encode_cursor

router = APIRouter(
    prefix="/v1/projects/{project_id}", tags=["verification"], responses=ERROR_RESPONSES
)


async def _annotator(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ProjectAccess:
    # A dependency, so that a caller without the role hears so before any body is read.
    return await require_access(session, principal, project_id, "annotator")


AnnotatorDep = Annotated[ProjectAccess, Depends(_annotator)]
# Labels a species decision concerns; an event-wide correction leaves people and vehicles be.
_SPECIES_TYPES = {"animal", "unknown", "unclassified"}


async def _observation(
    session: AsyncSession, project_id: uuid.UUID, observation_id: uuid.UUID
) -> Observation:
    observation = await session.get(Observation, observation_id)
    if observation is None or observation.project_id != project_id:
        raise NotFound(f"observation {observation_id} not found")
    return observation


def _state(o: Observation, version: int) -> ObservationState:
    return ObservationState.model_validate(
        {**o.model_dump(), "version": version}, from_attributes=False
    )


async def _resmooth(session: AsyncSession, observations: list[Observation]) -> None:
    # A person's label counts above the machine's in the event's smoothed label.
    ids = {o.media_id for o in observations if o.media_id is not None}
    if ids:
        media = (await session.exec(select(Media).where(col(Media.id).in_(ids)))).all()
        await smooth_events_of(session, media)


async def _one(
    session: AsyncSession,
    access: ProjectAccess,
    observation_id: uuid.UUID,
    action: str,
    change: Change,
) -> ObservationState:
    observation = await _observation(session, access.project.id, observation_id)
    new = await apply_to(session, [observation], action, change, access.principal.subject)
    await _resmooth(session, [observation])
    return _state(observation, new[observation.id])


async def _event(
    session: AsyncSession,
    access: ProjectAccess,
    event_id: uuid.UUID,
    action: str,
    change: Change,
    *,
    species_only: bool = False,
) -> list[ObservationState]:
    media_ids = (
        await session.exec(
            select(Media.id).where(
                Media.project_id == access.project.id, Media.event_id == event_id
            )
        )
    ).all()
    if not media_ids:
        raise NotFound(f"event {event_id} not found")
    rows = (
        await session.exec(
            select(Observation)
            .where(col(Observation.media_id).in_(list(media_ids)))
            .order_by(col(Observation.media_id), col(Observation.id))
        )
    ).all()
    by_media: dict[uuid.UUID | None, list[Observation]] = {}
    for o in rows:
        by_media.setdefault(o.media_id, []).append(o)
    targets = [o for group in by_media.values() for o in current_observations(group)]
    if species_only:
        targets = [o for o in targets if o.observation_type in _SPECIES_TYPES]
    new = await apply_to(session, targets, action, change, access.principal.subject)
    await _resmooth(session, targets)
    return [_state(o, new[o.id]) for o in targets]


@router.get("/observations/{observation_id}", response_model=ObservationState)
async def get_observation(
    project_id: uuid.UUID, observation_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ObservationState:
    """One observation with its verification state and how many changes it has had."""
    await require_access(session, principal, project_id)
    observation = await _observation(session, project_id, observation_id)
    return _state(observation, (await versions(session, [observation.id]))[observation.id])


@router.get("/observations/{observation_id}/history", response_model=Page[ObservationChangePublic])
async def get_observation_history(
    project_id: uuid.UUID,
    observation_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Page[ObservationChangePublic]:
    """Every change to the observation, oldest first: who, when, the fields before and after."""
    await require_access(session, principal, project_id)
    await _observation(session, project_id, observation_id)
    after = 0
    if cursor:
        raw = decode_cursor(cursor)
        if len(raw) != 1 or not isinstance(raw[0], int):
            raise Invalid("cursor is not one this API returned")
        after = raw[0]
    rows = (
        await session.exec(
            select(ObservationChange)
            .where(
                ObservationChange.observation_id == observation_id,
                col(ObservationChange.version) > after,
            )
            .order_by(col(ObservationChange.version))
            .limit(limit + 1)
        )
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[ObservationChangePublic.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=encode_cursor([rows[-1].version]) if more else None,
    )


@router.post("/observations/{observation_id}/validate", response_model=ObservationState)
async def validate_observation(
    observation_id: uuid.UUID, session: SessionDep, access: AnnotatorDep
) -> ObservationState:
    """Confirm the observation's label; it becomes the annotator's (annotators)."""
    return await _one(session, access, observation_id, "validate", state_change("validated"))


@router.post("/observations/{observation_id}/dubious", response_model=ObservationState)
async def mark_observation_dubious(
    observation_id: uuid.UUID, session: SessionDep, access: AnnotatorDep
) -> ObservationState:
    """Mark the observation's label as doubtful (annotators)."""
    return await _one(session, access, observation_id, "dubious", state_change("dubious"))


@router.post("/observations/{observation_id}/discard", response_model=ObservationState)
async def discard_observation(
    observation_id: uuid.UUID, session: SessionDep, access: AnnotatorDep
) -> ObservationState:
    """Discard the observation (a false detection); it no longer counts (annotators)."""
    return await _one(session, access, observation_id, "discard", state_change("discarded"))


@router.post("/observations/{observation_id}/correct", response_model=ObservationState)
async def correct_observation(
    observation_id: uuid.UUID, body: Correction, session: SessionDep, access: AnnotatorDep
) -> ObservationState:
    """Correct taxon, type, count, sex, life stage or behaviour; the label becomes the
    annotator's and is validated (annotators)."""
    change = await correction(session, body)
    return await _one(session, access, observation_id, "correct", change)


@router.post("/observations/{observation_id}/revert", response_model=ObservationState)
async def revert_observation(
    observation_id: uuid.UUID, body: Revert, session: SessionDep, access: AnnotatorDep
) -> ObservationState:
    """Bring the observation back to an earlier version from its history (annotators)."""
    observation = await _observation(session, access.project.id, observation_id)
    new = await revert(session, observation, body.version, access.principal.subject)
    await _resmooth(session, [observation])
    return _state(observation, new[observation.id])


@router.post("/events/{event_id}/validate", response_model=list[ObservationState])
async def validate_event(
    event_id: uuid.UUID, session: SessionDep, access: AnnotatorDep
) -> list[ObservationState]:
    """Confirm the current labels of every medium of the event (annotators)."""
    return await _event(session, access, event_id, "validate", state_change("validated"))


@router.post("/events/{event_id}/dubious", response_model=list[ObservationState])
async def mark_event_dubious(
    event_id: uuid.UUID, session: SessionDep, access: AnnotatorDep
) -> list[ObservationState]:
    """Mark the current labels of every medium of the event as doubtful (annotators)."""
    return await _event(session, access, event_id, "dubious", state_change("dubious"))


@router.post("/events/{event_id}/discard", response_model=list[ObservationState])
async def discard_event(
    event_id: uuid.UUID, session: SessionDep, access: AnnotatorDep
) -> list[ObservationState]:
    """Discard the current observations of every medium of the event (annotators)."""
    return await _event(session, access, event_id, "discard", state_change("discarded"))


@router.post("/events/{event_id}/correct", response_model=list[ObservationState])
async def correct_event(
    event_id: uuid.UUID, body: Correction, session: SessionDep, access: AnnotatorDep
) -> list[ObservationState]:
    """Correct the current animal labels of every medium of the event at once (annotators)."""
    change = await correction(session, body)
    return await _event(session, access, event_id, "correct", change, species_only=True)


@router.get("/review", response_model=Page[ReviewItem])
async def get_review_queue(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[ReviewItem]:
    """Unverified media, those where a person helps most first, each score explained."""
    await require_access(session, principal, project_id)
    after: tuple[float, uuid.UUID] | None = None
    if cursor:
        raw = decode_cursor(cursor)
        try:
            after = float(raw[0]), uuid.UUID(str(raw[1]))
        except (IndexError, TypeError, ValueError) as exc:
            raise Invalid("cursor is not one this API returned") from exc
    items = await review_queue(session, project_id, after=after, limit=limit + 1)
    page = items[:limit]
    more = len(items) > limit
    return Page(
        items=page,
        next_cursor=encode_cursor([page[-1].score, str(page[-1].media_id)]) if more else None,
    )
