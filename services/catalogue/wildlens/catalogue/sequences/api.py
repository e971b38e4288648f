"""A project's events (sequences): listed in time order, and one with its media."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from wildlens.catalogue.access import ViewerDep
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.models import Observation
from wildlens.catalogue.sequences import service
from wildlens.catalogue.sequences.schemas import (
    EventDetail,
    EventMedia,
    EventObservation,
    EventPublic,
)
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep, Timestamp

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["events"], responses=ERROR_RESPONSES)


@router.get("/events", response_model=Page[EventPublic])
async def list_events(
    session: SessionDep,
    access: ViewerDep,
    page: PageDep,
    deployment_id: Annotated[
        uuid.UUID | None, Query(description="Events of this deployment")
    ] = None,
    location_id: Annotated[uuid.UUID | None, Query(description="Events at this location")] = None,
    captured_from: Annotated[
        Timestamp | None, Query(description="Events ending at or after this time")
    ] = None,
    captured_to: Annotated[
        Timestamp | None, Query(description="Events starting before this time")
    ] = None,
) -> Page[EventPublic]:
    """The project's events in time order, with their smoothed labels."""
    rows, next_cursor = await service.list_events(
        session,
        access.project.id,
        page,
        deployment_id=deployment_id,
        location_id=location_id,
        captured_from=captured_from,
        captured_to=captured_to,
    )
    return Page(items=[EventPublic.from_row(e, loc) for e, loc in rows], next_cursor=next_cursor)


def _observation(o: Observation) -> EventObservation:
    machine = o.classification_method == "machine"
    # Only machine labels are smoothed; a person's stands as given.
    return EventObservation.from_row(
        o,
        smoothed_scientific_name=o.smoothed_scientific_name if machine else "",
        smoothed_taxon_id=o.smoothed_taxon_id if machine else None,
    )


@router.get("/events/{event_id}", response_model=EventDetail)
async def get_event(event_id: uuid.UUID, session: SessionDep, access: ViewerDep) -> EventDetail:
    """One event with its smoothed label, and its first 1000 media with their observations."""
    found = await service.event_contents(session, access, event_id)
    return EventDetail(
        **EventPublic.from_row(found.event, found.location_id).model_dump(),
        media=[
            EventMedia(
                id=m.id,
                captured_at=m.captured_at,
                filename=m.filename,
                kind=m.kind,
                status=m.status,
                observations=[_observation(o) for o in found.observations.get(m.id, [])],
            )
            for m in found.media
        ],
    )
