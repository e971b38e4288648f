"""The sequences domain's reads: a project's events filtered and paged, and one event with its
media and their observations as the caller may see them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.models import Media, Observation, Sequence
from wildlens.catalogue.privacy import request_view
from wildlens.catalogue.sequences import repository
from wildlens.common.errors import FieldError, Invalid, NotFound
from wildlens.common.http.pagination import PageParams

__all__ = ["EVENT_MEDIA", "EventContents", "event_contents", "list_events"]

# The media one event answers with; a time-lapse camera can chain a whole deployment into one
# event, whose size ``media_count`` still tells.
EVENT_MEDIA = 1000


@dataclass(frozen=True)
class EventContents:
    event: Sequence
    location_id: uuid.UUID | None
    media: list[Media]
    observations: dict[uuid.UUID, list[Observation]] = field(default_factory=dict)


async def list_events(
    session: AsyncSession,
    project_id: uuid.UUID,
    page: PageParams,
    *,
    deployment_id: uuid.UUID | None,
    location_id: uuid.UUID | None,
    captured_from: datetime | None,
    captured_to: datetime | None,
) -> tuple[list[tuple[Sequence, uuid.UUID | None]], str | None]:
    """(event, its location id) in time order, and the next page's cursor; 422 for a time
    range that ends before it starts, 404 for a deployment or location of another project."""
    if captured_from is not None and captured_to is not None and captured_to <= captured_from:
        message = "captured_to must be after captured_from"
        raise Invalid(
            message,
            fields=[
                FieldError(location=["query", "captured_to"], message=message, type="value_error")
            ],
        )
    if deployment_id is not None:
        found = await repository.get_deployment(session, deployment_id)
        if found is None or found.project_id != project_id:
            raise NotFound(f"deployment {deployment_id} not found in this project")
    if location_id is not None:
        place = await repository.get_location(session, location_id)
        if place is None or place.project_id != project_id:
            raise NotFound(f"location {location_id} not found in this project")
    return await repository.page_events(
        session,
        project_id,
        page,
        deployment_id=deployment_id,
        location_id=location_id,
        captured_from=captured_from,
        captured_to=captured_to,
    )


async def event_contents(
    session: AsyncSession, access: ProjectAccess, event_id: uuid.UUID
) -> EventContents:
    """The event, its first ``EVENT_MEDIA`` media the caller may see and their observations."""
    # Media with people stay hidden from those the project hides them from.
    visible = (await request_view(session, access)).visible_media()
    event = await repository.get_event(session, event_id)
    if event is None or event.project_id != access.project.id:
        raise NotFound(f"event {event_id} not found in this project")
    deployment = await repository.get_deployment(session, event.deployment_id)
    media = await repository.event_media(session, event.id, visible, EVENT_MEDIA)
    by_media: dict[uuid.UUID, list[Observation]] = defaultdict(list)
    for o in await repository.observations_of_media(session, [m.id for m in media]):
        if o.media_id is not None:
            by_media[o.media_id].append(o)
    return EventContents(
        event, deployment.location_id if deployment else None, media, dict(by_media)
    )
