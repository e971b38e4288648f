"""Keeping a deployment's events in step with its media.

A medium recorded one at a time joins the events of its neighbours within the gap (merging
them under the earliest one's id when it bridges several), or opens a new event. A deployment
whose media were re-timed or moved is regrouped from scratch, a page of media at a time, with
the ids kept as ``grouping`` describes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, bindparam, delete, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment, Media, Observation, Project, Sequence
from wildlens.catalogue.sequences.grouping import Chainer, Group, Point, choose_id
from wildlens.catalogue.sequences.smoothing import clear_smoothing, smooth_event, smooth_events
from wildlens.common.db import utcnow

__all__ = ["join_event", "regroup"]

# Media read per query while regrouping a deployment.
PAGE = 2000


async def _gap(session: AsyncSession, project_id: uuid.UUID) -> timedelta:
    project = await session.get(Project, project_id)
    return timedelta(seconds=project.event_gap_s if project else 60)


async def _refresh_bounds(session: AsyncSession, event: Sequence) -> None:
    start, end, count = (
        await session.exec(
            select(func.min(Media.captured_at), func.max(Media.captured_at), func.count()).where(
                Media.event_id == event.id
            )
        )
    ).one()
    if start is None or end is None:
        return
    event.start, event.end = start, end
    event.media_count = int(count)
    event.updated_at = utcnow()
    session.add(event)


async def _lock(session: AsyncSession, deployment_id: uuid.UUID) -> None:
    """Groups one deployment at a time: two replicas placing neighbouring media at once would
    each open an event where there must be one. (SQLite writes one transaction at a time
    anyway; PostgreSQL locks the deployment's row until the commit.)"""
    await session.exec(
        select(Deployment.id).where(Deployment.id == deployment_id).with_for_update()
    )


async def join_event(session: AsyncSession, media: Media) -> Sequence | None:
    """Puts a just-recorded (and flushed) medium into its event; None where it has none."""
    if media.deployment_id is None or media.captured_at is None:
        return None
    await _lock(session, media.deployment_id)
    gap = await _gap(session, media.project_id)
    moment = media.captured_at
    neighbours = await session.exec(
        select(Media.event_id)
        .where(
            Media.deployment_id == media.deployment_id,
            col(Media.captured_at) >= moment - gap,
            col(Media.captured_at) <= moment + gap,
            Media.id != media.id,
            col(Media.event_id).is_not(None),
        )
        .distinct()
    )
    event_ids = [e for e in neighbours.all() if e is not None]
    if not event_ids:
        event = Sequence(
            project_id=media.project_id,
            deployment_id=media.deployment_id,
            start=moment,
            end=moment,
            media_count=1,
        )
        session.add(event)
        await session.flush()
        media.event_id = event.id
        session.add(media)
        await session.flush()
        return event
    events = list(
        (await session.exec(select(Sequence).where(col(Sequence.id).in_(event_ids)))).all()
    )
    keep = min(events, key=lambda e: (e.start, str(e.id)))
    merged = [e for e in events if e.id != keep.id]
    if merged:
        await _move_members(session, [e.id for e in merged], keep.id)
        for event in merged:
            await session.delete(event)
    media.event_id = keep.id
    session.add(media)
    await session.flush()
    await _refresh_bounds(session, keep)
    if merged:
        await smooth_event(session, keep)
    await session.flush()
    return keep


async def _move_members(
    session: AsyncSession, from_events: list[uuid.UUID], to_event: uuid.UUID | None
) -> None:
    await session.exec(
        update(Media)
        .where(col(Media.event_id).in_(from_events))
        .values(event_id=to_event)
        .execution_options(synchronize_session="fetch")
    )


async def _points(session: AsyncSession, deployment_id: uuid.UUID) -> AsyncIterator[Point]:
    """The deployment's timed media in capture order, a page per query."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        query = select(Media.id, Media.captured_at, Media.event_id).where(
            Media.deployment_id == deployment_id, col(Media.captured_at).is_not(None)
        )
        if after is not None:
            query = query.where(
                or_(
                    col(Media.captured_at) > after[0],
                    and_(col(Media.captured_at) == after[0], col(Media.id) > after[1]),
                )
            )
        rows = (
            await session.exec(query.order_by(col(Media.captured_at), col(Media.id)).limit(PAGE))
        ).all()
        for media_id, captured_at, event_id in rows:
            assert captured_at is not None
            yield Point(media_id, captured_at, event_id)
        if len(rows) < PAGE:
            return
        last = rows[-1]
        assert last[1] is not None
        after = (last[1], last[0])


class _Regrouping:
    """One deployment's regrouping: decisions per group, writes a batch at a time (new events
    in one flush, new memberships in one executemany, labels only where they can change)."""

    def __init__(
        self, session: AsyncSession, project_id: uuid.UUID, deployment_id: uuid.UUID
    ) -> None:
        self.session = session
        self.project_id = project_id
        self.deployment_id = deployment_id
        self.events: dict[uuid.UUID, Sequence] = {}
        self.starts: dict[uuid.UUID, datetime] = {}
        self.taken: set[uuid.UUID] = set()
        self.memberships: list[dict[str, uuid.UUID]] = []
        self.relabel: set[uuid.UUID] = set()
        self.changed = 0

    async def load(self) -> None:
        rows = await self.session.exec(
            select(Sequence).where(Sequence.deployment_id == self.deployment_id)
        )
        self.events = {e.id: e for e in rows.all()}
        self.starts = {event_id: e.start for event_id, e in self.events.items()}

    def settle(self, group: Group) -> None:
        event_id = choose_id((p.event_id for p in group.points), self.starts, self.taken)
        event = self.events.get(event_id) if event_id is not None else None
        if event is None:
            event = Sequence(
                project_id=self.project_id,
                deployment_id=self.deployment_id,
                start=group.start,
                end=group.end,
            )
            self.session.add(event)
            self.events[event.id] = event
        self.taken.add(event.id)
        moved = [p.media_id for p in group.points if p.event_id != event.id]
        self.memberships += [{"media_id": m, "new_event_id": event.id} for m in moved]
        self.changed += len(moved)
        # Media that joined, or left (fewer than before), change who votes.
        if moved or event.media_count != len(group.points):
            self.relabel.add(event.id)
        bounds = (group.start, group.end, len(group.points))
        if (event.start, event.end, event.media_count) != bounds:
            event.start, event.end, event.media_count = bounds
            event.updated_at = utcnow()

    async def write(self) -> None:
        """Writes what was decided so far."""
        await self.session.flush()
        if self.memberships:
            # Core executemany: these media are not loaded in the session.
            await (await self.session.connection()).execute(
                update(_MEDIA)
                .where(_MEDIA.c.id == bindparam("media_id"))
                .values(event_id=bindparam("new_event_id")),
                self.memberships,
            )
            self.memberships = []
        if self.relabel:
            relabel = await _labelled(self.session, self.relabel)
            await smooth_events(self.session, relabel, {e: self.events[e] for e in relabel})
            self.relabel = set()


_MEDIA: Table = Media.__table__  # type: ignore[attr-defined]


async def _labelled(session: AsyncSession, event_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Of ``event_ids``, those whose label can change: they have animal observations, or had
    a label before."""
    with_votes = await session.exec(
        select(Media.event_id)
        .join(Observation, col(Observation.media_id) == col(Media.id))
        .where(col(Media.event_id).in_(event_ids), Observation.observation_type == "animal")
        .distinct()
    )
    had_label = await session.exec(
        select(Sequence.id).where(
            col(Sequence.id).in_(event_ids), Sequence.label_scientific_name != ""
        )
    )
    return {e for e in with_votes.all() if e is not None} | set(had_label.all())


async def regroup(session: AsyncSession, project_id: uuid.UUID, deployment_id: uuid.UUID) -> int:
    """Groups the deployment's media again after re-timing, keeping event ids; the number of
    media whose event changed."""
    await _lock(session, deployment_id)
    gap = await _gap(session, project_id)
    regrouping = _Regrouping(session, project_id, deployment_id)
    await regrouping.load()
    chainer = Chainer(gap)
    async for point in _points(session, deployment_id):
        closed = chainer.add(point)
        if closed is not None:
            regrouping.settle(closed)
            if len(regrouping.memberships) >= PAGE:
                await regrouping.write()
    last = chainer.close()
    if last is not None:
        regrouping.settle(last)
    await regrouping.write()
    changed = regrouping.changed
    events = regrouping.events
    taken = regrouping.taken

    # Media without a time belong to no event; events no group kept are gone.
    untimed = list(
        (
            await session.exec(
                select(Media.id).where(
                    Media.deployment_id == deployment_id,
                    col(Media.captured_at).is_(None),
                    col(Media.event_id).is_not(None),
                )
            )
        ).all()
    )
    if untimed:
        await session.exec(
            update(Media)
            .where(col(Media.id).in_(untimed))
            .values(event_id=None)
            .execution_options(synchronize_session="fetch")
        )
        await clear_smoothing(session, untimed)
        changed += len(untimed)
    stale = [event_id for event_id in events if event_id not in taken]
    if stale:
        await _move_members(session, stale, None)
        await session.exec(delete(Sequence).where(col(Sequence.id).in_(stale)))
    await session.flush()
    return changed
