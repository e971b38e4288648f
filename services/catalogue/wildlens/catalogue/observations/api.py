"""Verifying observations one at a time or a whole event at once, their history and revert."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from wildlens.catalogue.access import AnnotatorDep, ManagerDep, ViewerDep
from wildlens.catalogue.deps import BusDep, DatabaseDep, SessionDep
from wildlens.catalogue.observations import service
from wildlens.catalogue.observations.schemas import (
    Correction,
    Labelling,
    ObservationChangePublic,
    ObservationState,
    Revert,
    ReviewItem,
    SelectionCandidate,
)
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep, PageParams, page_params

router = APIRouter(
    prefix="/v1/projects/{project_id}", tags=["verification"], responses=ERROR_RESPONSES
)


@router.get("/observations/{observation_id}", response_model=ObservationState)
async def get_observation(
    observation_id: uuid.UUID, session: SessionDep, access: ViewerDep
) -> ObservationState:
    """One observation with its verification state and how many changes it has had."""
    return await service.observation_state(session, access.project.id, observation_id)


@router.get("/observations/{observation_id}/history", response_model=Page[ObservationChangePublic])
async def get_observation_history(
    observation_id: uuid.UUID,
    session: SessionDep,
    access: ViewerDep,
    page: PageDep,
) -> Page[ObservationChangePublic]:
    """Every change to the observation, oldest first: who, when, the fields before and after."""
    return await service.history_page(session, access.project.id, observation_id, page)


@router.post("/observations/{observation_id}/validate", response_model=ObservationState)
async def validate_observation(
    observation_id: uuid.UUID, session: SessionDep, access: AnnotatorDep, bus: BusDep
) -> ObservationState:
    """Confirm the observation's label; it becomes the annotator's (annotators)."""
    return await service.judge(session, bus, access, observation_id, "validate")


@router.post("/observations/{observation_id}/dubious", response_model=ObservationState)
async def mark_observation_dubious(
    observation_id: uuid.UUID, session: SessionDep, access: AnnotatorDep, bus: BusDep
) -> ObservationState:
    """Mark the observation's label as doubtful (annotators)."""
    return await service.judge(session, bus, access, observation_id, "dubious")


@router.post("/observations/{observation_id}/discard", response_model=ObservationState)
async def discard_observation(
    observation_id: uuid.UUID, session: SessionDep, access: AnnotatorDep, bus: BusDep
) -> ObservationState:
    """Discard the observation (a false detection); it no longer counts (annotators)."""
    return await service.judge(session, bus, access, observation_id, "discard")


@router.post("/observations/{observation_id}/correct", response_model=ObservationState)
async def correct_observation(
    observation_id: uuid.UUID,
    body: Correction,
    session: SessionDep,
    access: AnnotatorDep,
    bus: BusDep,
) -> ObservationState:
    """Correct taxon, type, count, sex, life stage or behaviour; the label becomes the
    annotator's and is validated (annotators)."""
    return await service.correct(session, bus, access, observation_id, body)


@router.post("/media/{media_id}/observations", status_code=201, response_model=ObservationState)
async def label_medium(
    media_id: uuid.UUID, body: Labelling, session: SessionDep, access: AnnotatorDep, bus: BusDep
) -> ObservationState:
    """Label a medium by hand, as one no detector has analysed: a new observation, the
    annotator's own and validated (annotators)."""
    return await service.label_medium(session, bus, access, media_id, body)


@router.post("/observations/{observation_id}/revert", response_model=ObservationState)
async def revert_observation(
    observation_id: uuid.UUID, body: Revert, session: SessionDep, access: AnnotatorDep, bus: BusDep
) -> ObservationState:
    """Bring the observation back to an earlier version from its history (annotators)."""
    return await service.revert_to(session, bus, access, observation_id, body.version)


@router.post("/events/{event_id}/validate", response_model=list[ObservationState])
async def validate_event(
    event_id: uuid.UUID, session: SessionDep, access: AnnotatorDep, bus: BusDep
) -> list[ObservationState]:
    """Confirm the current labels of every medium of the event (annotators)."""
    return await service.judge_event(session, bus, access, event_id, "validate")


@router.post("/events/{event_id}/dubious", response_model=list[ObservationState])
async def mark_event_dubious(
    event_id: uuid.UUID, session: SessionDep, access: AnnotatorDep, bus: BusDep
) -> list[ObservationState]:
    """Mark the current labels of every medium of the event as doubtful (annotators)."""
    return await service.judge_event(session, bus, access, event_id, "dubious")


@router.post("/events/{event_id}/discard", response_model=list[ObservationState])
async def discard_event(
    event_id: uuid.UUID, session: SessionDep, access: AnnotatorDep, bus: BusDep
) -> list[ObservationState]:
    """Discard the current observations of every medium of the event (annotators)."""
    return await service.judge_event(session, bus, access, event_id, "discard")


@router.post("/events/{event_id}/correct", response_model=list[ObservationState])
async def correct_event(
    event_id: uuid.UUID, body: Correction, session: SessionDep, access: AnnotatorDep, bus: BusDep
) -> list[ObservationState]:
    """Correct the current animal labels of every medium of the event at once (annotators)."""
    return await service.correct_event(session, bus, access, event_id, body)


@router.get("/review", response_model=Page[ReviewItem])
async def get_review_queue(
    db: DatabaseDep,
    session: SessionDep,
    access: ViewerDep,
    page: Annotated[PageParams, Depends(page_params(default=50, maximum=500))],
) -> Page[ReviewItem]:
    """Unverified media, those where a person helps most first, each score explained."""
    return await service.review_page(db, session, access.project.id, page)


@router.get("/review/candidates", response_model=Page[SelectionCandidate])
async def get_selection_candidates(
    db: DatabaseDep,
    session: SessionDep,
    access: ManagerDep,
    page: Annotated[PageParams, Depends(page_params(default=100, maximum=500))],
) -> Page[SelectionCandidate]:
    """Unverified media in the review queue's order, each with the parts of its score
    (certainty, entropy, margin, disagreement, rarity, not analysed, blank), whether it shows
    people the project hides, and the pictures of its event or frames of its video: what
    selection for volunteers weighs (managers)."""
    return await service.candidates_page(db, session, access.project.id, page)
