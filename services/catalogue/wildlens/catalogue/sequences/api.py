"""A project's events (sequences): listed in time order, and one with its media."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from sqlmodel import col, select

from wildlens.catalogue.access import require_access
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.models import Deployment, Location, Media, Observation, Sequence
from wildlens.catalogue.pagination import SortKey, page_by_keys, parse_datetime, parse_uuid
from wildlens.catalogue.privacy import request_view
from wildlens.catalogue.sequences.schemas import (
    EventDetail,
    EventMedia,
    EventObservation,
    EventPublic,
    SmoothedLabel,
)
from wildlens.common.errors import Invalid, NotFound
from wildlens.common.http import ERROR_RESPONSES, Page, PrincipalDep

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["events"], responses=ERROR_RESPONSES)

Limit = Annotated[int, Query(ge=1, le=1000)]
# The media one event answers with; a time-lapse camera can chain a whole deployment into one
# event, whose size ``media_count`` still tells.
EVENT_MEDIA = 1000


def _public(event: Sequence, location_id: uuid.UUID | None) -> EventPublic:
    label = None
    if event.label_scientific_name and event.label_total:
        label = SmoothedLabel(
            scientific_name=event.label_scientific_name,
            taxon_id=event.label_taxon_id,
            method=event.label_method,
            votes=event.label_votes,
            total=event.label_total,
            share=event.label_votes / event.label_total,
        )
    return EventPublic(
        id=event.id,
        project_id=event.project_id,
        deployment_id=event.deployment_id,
        location_id=location_id,
        start=event.start,
        end=event.end,
        media_count=event.media_count,
        label=label,
    )


@router.get("/events", response_model=Page[EventPublic])
async def list_events(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    deployment_id: Annotated[
        uuid.UUID | None, Query(description="Events of this deployment")
    ] = None,
    location_id: Annotated[uuid.UUID | None, Query(description="Events at this location")] = None,
    captured_from: Annotated[
        AwareDatetime | None, Query(description="Events ending at or after this time")
    ] = None,
    captured_to: Annotated[
        AwareDatetime | None, Query(description="Events starting before this time")
    ] = None,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[EventPublic]:
    """The project's events in time order, with their smoothed labels."""
    await require_access(session, principal, project_id)
    if captured_from is not None and captured_to is not None and captured_to <= captured_from:
        raise Invalid(
            "captured_to must be after captured_from",
            fields=[{"field": "captured_to", "problem": "not after captured_from"}],
        )
    if deployment_id is not None:
        found = await session.get(Deployment, deployment_id)
        if found is None or found.project_id != project_id:
            raise NotFound(f"deployment {deployment_id} not found in this project")
    if location_id is not None:
        place = await session.get(Location, location_id)
        if place is None or place.project_id != project_id:
            raise NotFound(f"location {location_id} not found in this project")
    query = (
        select(Sequence, Deployment.location_id)
        .join(Deployment, col(Sequence.deployment_id) == col(Deployment.id))
        .where(Sequence.project_id == project_id)
    )
    if deployment_id is not None:
        query = query.where(Sequence.deployment_id == deployment_id)
    if location_id is not None:
        query = query.where(Deployment.location_id == location_id)
    if captured_from is not None:
        query = query.where(col(Sequence.end) >= captured_from)
    if captured_to is not None:
        query = query.where(col(Sequence.start) < captured_to)
    rows, next_cursor = await page_by_keys(
        session,
        query,
        [SortKey(col(Sequence.start), parse_datetime), SortKey(col(Sequence.id), parse_uuid)],
        lambda row: [row[0].start, row[0].id],
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[_public(e, loc) for e, loc in rows], next_cursor=next_cursor)


@router.get("/events/{event_id}", response_model=EventDetail)
async def get_event(
    project_id: uuid.UUID, event_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> EventDetail:
    """One event with its smoothed label, and its first 1000 media with their observations."""
    access = await require_access(session, principal, project_id)
    # Media with people stay hidden from those the project hides them from.
    visible = (await request_view(session, access)).visible_media()
    event = await session.get(Sequence, event_id)
    if event is None or event.project_id != project_id:
        raise NotFound(f"event {event_id} not found in this project")
    deployment = await session.get(Deployment, event.deployment_id)
    media = (
        await session.exec(
            select(Media)
            .where(Media.event_id == event.id, *visible)
            .order_by(col(Media.captured_at), col(Media.id))
            .limit(EVENT_MEDIA)
        )
    ).all()
    observations = (
        await session.exec(
            select(Observation)
            .where(col(Observation.media_id).in_([m.id for m in media]))
            .order_by(col(Observation.classified_at), col(Observation.id))
        )
    ).all()
    by_media: dict[uuid.UUID, list[EventObservation]] = defaultdict(list)
    for o in observations:
        if o.media_id is None:
            continue
        machine = o.classification_method == "machine"
        by_media[o.media_id].append(
            EventObservation(
                id=o.id,
                observation_type=o.observation_type,
                category=o.category,
                confidence=o.confidence,
                bbox=o.bbox,
                scientific_name=o.scientific_name,
                taxon_id=o.taxon_id,
                classification_method=o.classification_method,
                classified_by=o.classified_by,
                # Only machine labels are smoothed; a person's stands as given.
                smoothed_scientific_name=o.smoothed_scientific_name if machine else "",
                smoothed_taxon_id=o.smoothed_taxon_id if machine else None,
            )
        )
    return EventDetail(
        **_public(event, deployment.location_id if deployment else None).model_dump(),
        media=[
            EventMedia(
                id=m.id,
                captured_at=m.captured_at,
                filename=m.filename,
                kind=m.kind,
                status=m.status,
                observations=by_media.get(m.id, []),
            )
            for m in media
        ],
    )
