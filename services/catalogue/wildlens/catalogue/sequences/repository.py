"""Every query of the sequences domain: events listed and shown, and the reads and writes that
keep a deployment's events in step with its media."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, bindparam, delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment, Location, Media, Observation, Project
from wildlens.catalogue.models import Sequence as Event
from wildlens.common.db import pagination as keyset
from wildlens.common.db.pagination import SortKey, page_by_keys, parse_datetime
from wildlens.common.http.pagination import PageParams

__all__ = [
    "deployment_events",
    "drop_events",
    "event_bounds",
    "event_gap_s",
    "event_media",
    "events_by_ids",
    "get_deployment",
    "get_event",
    "get_location",
    "labelled_events",
    "leave_events",
    "lock_deployment",
    "move_members",
    "neighbour_events",
    "observations_of_media",
    "page_events",
    "set_events",
    "timed_media",
    "untimed_members",
]

_MEDIA: Table = Media.__table__  # type: ignore[attr-defined]


async def get_event(session: AsyncSession, event_id: uuid.UUID) -> Event | None:
    return await session.get(Event, event_id)


async def get_deployment(session: AsyncSession, deployment_id: uuid.UUID) -> Deployment | None:
    return await session.get(Deployment, deployment_id)


async def get_location(session: AsyncSession, location_id: uuid.UUID) -> Location | None:
    return await session.get(Location, location_id)


async def page_events(
    session: AsyncSession,
    project_id: uuid.UUID,
    page: PageParams,
    *,
    deployment_id: uuid.UUID | None,
    location_id: uuid.UUID | None,
    captured_from: datetime | None,
    captured_to: datetime | None,
) -> tuple[list[tuple[Event, uuid.UUID | None]], str | None]:
    """(event, its location id) in time order, then by id, and the next page's cursor."""
    query = (
        select(Event, Deployment.location_id)
        .join(Deployment, col(Event.deployment_id) == col(Deployment.id))
        .where(Event.project_id == project_id)
    )
    if deployment_id is not None:
        query = query.where(Event.deployment_id == deployment_id)
    if location_id is not None:
        query = query.where(Deployment.location_id == location_id)
    if captured_from is not None:
        query = query.where(col(Event.end) >= captured_from)
    if captured_to is not None:
        query = query.where(col(Event.start) < captured_to)
    rows, next_cursor = await page_by_keys(
        session,
        query,
        [SortKey(col(Event.start), parse_datetime), SortKey(col(Event.id))],
        lambda row: [row[0].start, row[0].id],
        page,
    )
    return [(e, location) for e, location in rows], next_cursor


async def event_media(
    session: AsyncSession,
    event_id: uuid.UUID,
    visible: Sequence[ColumnElement[bool]],
    limit: int,
) -> list[Media]:
    """The event's first ``limit`` media in capture order that ``visible`` lets through."""
    rows = await session.exec(
        select(Media)
        .where(Media.event_id == event_id, *visible)
        .order_by(col(Media.captured_at), col(Media.id))
        .limit(limit)
    )
    return list(rows.all())


async def observations_of_media(
    session: AsyncSession, media_ids: Sequence[uuid.UUID]
) -> list[Observation]:
    """The media's observations in the order they were recorded."""
    rows = await session.exec(
        select(Observation)
        .where(col(Observation.media_id).in_(list(media_ids)))
        .order_by(col(Observation.classified_at), col(Observation.id))
    )
    return list(rows.all())


async def event_gap_s(session: AsyncSession, project_id: uuid.UUID) -> int | None:
    """The project's event gap in seconds; None for a project that is not there."""
    project = await session.get(Project, project_id)
    return project.event_gap_s if project else None


async def lock_deployment(session: AsyncSession, deployment_id: uuid.UUID) -> None:
    """Holds the deployment's row until the commit (PostgreSQL; SQLite writes one transaction
    at a time anyway).

    FOR NO KEY UPDATE, not FOR UPDATE: the medium this transaction just inserted holds a KEY
    SHARE lock on the same row through its foreign key, as does a neighbour's insert in another
    transaction; FOR UPDATE waits for those, and two such transactions would wait for each
    other (a deadlock), while NO KEY UPDATE only waits for the other's grouping.
    """
    await session.exec(
        select(Deployment.id).where(Deployment.id == deployment_id).with_for_update(key_share=True)
    )


async def event_bounds(
    session: AsyncSession, event_id: uuid.UUID
) -> tuple[datetime | None, datetime | None, int]:
    """The first and last capture time of the event's media, and how many it has."""
    start, end, count = (
        await session.exec(
            select(func.min(Media.captured_at), func.max(Media.captured_at), func.count()).where(
                Media.event_id == event_id
            )
        )
    ).one()
    return start, end, int(count)


async def neighbour_events(session: AsyncSession, media: Media, gap: timedelta) -> list[uuid.UUID]:
    """The platform's own events of the deployment's other media captured within ``gap`` of
    ``media``: a sequence an import named stays as its source made it (an upload beside it
    neither joins it nor merges two of them)."""
    assert media.captured_at is not None
    moment = media.captured_at
    rows = await session.exec(
        select(Media.event_id)
        .join(Event, col(Event.id) == col(Media.event_id))
        .where(
            col(Event.external_id).is_(None),
            Media.deployment_id == media.deployment_id,
            col(Media.captured_at) >= moment - gap,
            col(Media.captured_at) <= moment + gap,
            Media.id != media.id,
            col(Media.event_id).is_not(None),
        )
        .distinct()
    )
    return [e for e in rows.all() if e is not None]


async def events_by_ids(session: AsyncSession, event_ids: Collection[uuid.UUID]) -> list[Event]:
    rows = await session.exec(select(Event).where(col(Event.id).in_(list(event_ids))))
    return list(rows.all())


async def deployment_events(session: AsyncSession, deployment_id: uuid.UUID) -> list[Event]:
    rows = await session.exec(select(Event).where(Event.deployment_id == deployment_id))
    return list(rows.all())


async def move_members(
    session: AsyncSession, from_events: list[uuid.UUID], to_event: uuid.UUID | None
) -> None:
    """The media of ``from_events`` into ``to_event`` (None: into no event)."""
    await session.exec(
        update(Media)
        .where(col(Media.event_id).in_(from_events))
        .values(event_id=to_event)
        .execution_options(synchronize_session="fetch")
    )


# A deployment's timed media in the order they were taken (ties by id).
_CAPTURE_ORDER = [SortKey(col(Media.captured_at), parse_datetime), SortKey(col(Media.id))]


async def timed_media(
    session: AsyncSession,
    deployment_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[uuid.UUID, datetime, uuid.UUID | None]]:
    """(id, capture time, event) of the deployment's next ``limit`` timed media after
    ``after`` (capture time, id), in capture order."""
    query = select(Media.id, Media.captured_at, Media.event_id).where(
        Media.deployment_id == deployment_id, col(Media.captured_at).is_not(None)
    )
    if after is not None:
        query = query.where(keyset.after(_CAPTURE_ORDER, after))
    rows = (await session.exec(query.order_by(*keyset.order_by(_CAPTURE_ORDER)).limit(limit))).all()
    out = []
    for media_id, captured_at, event_id in rows:
        assert captured_at is not None
        out.append((media_id, captured_at, event_id))
    return out


async def event_members(
    session: AsyncSession, event_id: uuid.UUID
) -> list[tuple[uuid.UUID, datetime]]:
    """(id, capture time) of the event's timed media, in capture order."""
    rows = await session.exec(
        select(Media.id, Media.captured_at)
        .where(Media.event_id == event_id, col(Media.captured_at).is_not(None))
        .order_by(*keyset.order_by(_CAPTURE_ORDER))
    )
    return [(media_id, captured_at) for media_id, captured_at in rows.all() if captured_at]


async def set_events(session: AsyncSession, memberships: list[dict[str, uuid.UUID]]) -> None:
    """Each ``media_id`` into its ``new_event_id``, in one executemany (the media need not be
    loaded in the session)."""
    await (await session.connection()).execute(
        update(_MEDIA)
        .where(_MEDIA.c.id == bindparam("media_id"))
        .values(event_id=bindparam("new_event_id")),
        memberships,
    )


async def labelled_events(session: AsyncSession, event_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Of ``event_ids``, those whose label can change: they have animal observations, or had
    a label before."""
    with_votes = await session.exec(
        select(Media.event_id)
        .join(Observation, col(Observation.media_id) == col(Media.id))
        .where(col(Media.event_id).in_(event_ids), Observation.observation_type == "animal")
        .distinct()
    )
    had_label = await session.exec(
        select(Event.id).where(col(Event.id).in_(event_ids), Event.label_scientific_name != "")
    )
    return {e for e in with_votes.all() if e is not None} | set(had_label.all())


async def untimed_members(session: AsyncSession, deployment_id: uuid.UUID) -> list[uuid.UUID]:
    """The deployment's media in an event that have no capture time (any more)."""
    rows = await session.exec(
        select(Media.id).where(
            Media.deployment_id == deployment_id,
            col(Media.captured_at).is_(None),
            col(Media.event_id).is_not(None),
        )
    )
    return list(rows.all())


async def leave_events(session: AsyncSession, media_ids: list[uuid.UUID]) -> None:
    await session.exec(
        update(Media)
        .where(col(Media.id).in_(media_ids))
        .values(event_id=None)
        .execution_options(synchronize_session="fetch")
    )


async def drop_events(session: AsyncSession, event_ids: list[uuid.UUID]) -> None:
    await session.exec(delete(Event).where(col(Event.id).in_(event_ids)))
