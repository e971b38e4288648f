"""Keeping a deployment's events in step with its media.

A medium recorded one at a time joins the events of its neighbours within the gap (merging
them under the earliest one's id when it bridges several), or opens a new event. A deployment
whose media were re-timed or moved is regrouped from scratch, a page of media at a time, with
the ids kept as ``grouping`` describes. An event that lost media (deleted) is regrouped over
the media it still has: narrowed, split where the gap now falls inside it, gone when empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Media, Sequence
from wildlens.catalogue.observations.smoothing import (
    clear_smoothing,
    smooth_event,
    smooth_events,
)
from wildlens.catalogue.sequences import repository
from wildlens.catalogue.sequences.grouping import Chainer, Group, Point, choose_id
from wildlens.catalogue.sequences.importing import group_sequences
from wildlens.catalogue.sequences.points import PAGE, gap_of, lock, points_of
from wildlens.common.db import utcnow

__all__ = ["join_event", "regroup", "settle_after_removal"]


async def _refresh_bounds(session: AsyncSession, event: Sequence) -> None:
    start, end, count = await repository.event_bounds(session, event.id)
    if start is None or end is None:
        return
    event.start, event.end = start, end
    event.media_count = count
    event.updated_at = utcnow()
    session.add(event)


async def join_event(session: AsyncSession, media: Media) -> Sequence | None:
    """Puts a just-recorded (and flushed) medium into its event; None where it has none."""
    if media.deployment_id is None or media.captured_at is None:
        return None
    await lock(session, media.deployment_id)
    gap = await gap_of(session, media.project_id)
    moment = media.captured_at
    event_ids = await repository.neighbour_events(session, media, gap)
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
    events = await repository.events_by_ids(session, event_ids)
    keep = min(events, key=lambda e: (e.start, str(e.id)))
    merged = [e for e in events if e.id != keep.id]
    if merged:
        await repository.move_members(session, [e.id for e in merged], keep.id)
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
        rows = await repository.deployment_events(self.session, self.deployment_id)
        self.events = {e.id: e for e in rows}
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
            await repository.set_events(self.session, self.memberships)
            self.memberships = []
        if self.relabel:
            relabel = await repository.labelled_events(self.session, self.relabel)
            await smooth_events(self.session, relabel, {e: self.events[e] for e in relabel})
            self.relabel = set()


async def settle_after_removal(session: AsyncSession, event_ids: Collection[uuid.UUID]) -> None:
    """Regroup each of ``event_ids`` over the media it still has, after some were removed (in
    the removal's transaction): its bounds and count narrow to what is left; where the gap now
    falls inside it, its first part keeps the id and the rest become events of their own; with
    nothing left it is gone. Labels smoothed over it are counted again."""
    events = await repository.events_by_ids(session, event_ids)
    for event in sorted(events, key=lambda e: (str(e.deployment_id), e.start, str(e.id))):
        await lock(session, event.deployment_id)
        regrouping = _Regrouping(session, event.project_id, event.deployment_id)
        regrouping.events = {event.id: event}
        regrouping.starts = {event.id: event.start}
        points = [
            Point(media_id, moment, event.id)
            for media_id, moment in await repository.event_members(session, event.id)
        ]
        if event.external_id:
            # An imported sequence stays one, as its source made it; only its bounds follow.
            groups = [Group(points)] if points else []
        else:
            chainer = Chainer(await gap_of(session, event.project_id))
            groups = [closed for p in points if (closed := chainer.add(p)) is not None]
            if (last := chainer.close()) is not None:
                groups.append(last)
        for group in groups:
            regrouping.settle(group)
        await regrouping.write()
        if not groups:
            await repository.drop_events(session, [event.id])
    await session.flush()


async def _leave_untimed(session: AsyncSession, deployment_id: uuid.UUID) -> int:
    """Media without a time belong to no event; how many left one."""
    untimed = await repository.untimed_members(session, deployment_id)
    if untimed:
        await repository.leave_events(session, untimed)
        await clear_smoothing(session, untimed)
    return len(untimed)


async def regroup(session: AsyncSession, project_id: uuid.UUID, deployment_id: uuid.UUID) -> int:
    """Groups the deployment's media again after re-timing, keeping event ids; the number of
    media whose event changed."""
    await lock(session, deployment_id)
    gap = await gap_of(session, project_id)
    regrouping = _Regrouping(session, project_id, deployment_id)
    await regrouping.load()
    if any(e.external_id for e in regrouping.events.values()):
        # An imported package's sequences stay as it gave them; the rest chain by the gap.
        moved = await group_sequences(session, project_id, deployment_id, {})
        return moved + await _leave_untimed(session, deployment_id)
    chainer = Chainer(gap)
    async for point in points_of(session, deployment_id):
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

    changed += await _leave_untimed(session, deployment_id)
    # Events no group kept are gone.
    stale = [event_id for event_id in events if event_id not in taken]
    if stale:
        await repository.move_members(session, stale, None)
        await repository.drop_events(session, stale)
    await session.flush()
    return changed
