"""Events for media an import brought: the package's own sequences where it names them, the
project's gap elsewhere.

An imported package may say which media form one sequence (Camtrap DP's eventID, COCO Camera
Traps' seq_id). Those media become one event per id and deployment, the id kept as the event's
``external_id`` so that exports give it back; media that stayed in such an event from an
earlier import stay there. The deployment's other timed media are chained by ``event_gap_s``
as uploads are, keeping the ids of the gap events they were in (``grouping.choose_id``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Sequence
from wildlens.catalogue.observations.smoothing import smooth_events
from wildlens.catalogue.sequences import repository
from wildlens.catalogue.sequences.grouping import Point, chain, choose_id
from wildlens.catalogue.sequences.points import gap_of, lock, points_of
from wildlens.common.db import utcnow

__all__ = ["group_imported", "group_sequences"]


async def group_imported(
    session: AsyncSession,
    project_id: uuid.UUID,
    deployment_id: uuid.UUID,
    named: Mapping[uuid.UUID, str],
) -> None:
    """Puts the deployment's media into events after an import (``named``: media id → the
    sequence id the package gave it)."""
    await group_sequences(session, project_id, deployment_id, named)


async def group_sequences(
    session: AsyncSession,
    project_id: uuid.UUID,
    deployment_id: uuid.UUID,
    named: Mapping[uuid.UUID, str],
) -> int:
    """As :func:`group_imported`; the number of media whose event changed."""
    await lock(session, deployment_id)
    gap = await gap_of(session, project_id)
    events = {e.id: e for e in await repository.deployment_events(session, deployment_id)}
    by_external = {e.external_id: e for e in events.values() if e.external_id}
    members: dict[uuid.UUID, list[Point]] = defaultdict(list)
    unnamed: list[Point] = []
    async for point in points_of(session, deployment_id):
        external = named.get(point.media_id)
        if external is None and point.event_id in events:
            external = events[point.event_id].external_id
        if not external:
            unnamed.append(point)
            continue
        event = by_external.get(external)
        if event is None:
            event = Sequence(
                project_id=project_id,
                deployment_id=deployment_id,
                start=point.captured_at,
                end=point.captured_at,
                external_id=external,
            )
            session.add(event)
            by_external[external] = events[event.id] = event
        members[event.id].append(point)

    # The rest as uploads are grouped, gap events keeping their ids.
    starts = {i: e.start for i, e in events.items() if not e.external_id}
    taken: set[uuid.UUID] = set()
    for group in chain(unnamed, gap):
        event_id = choose_id((p.event_id for p in group.points), starts, taken)
        if event_id is None:
            event = Sequence(
                project_id=project_id,
                deployment_id=deployment_id,
                start=group.start,
                end=group.end,
            )
            session.add(event)
            events[event.id] = event
            event_id = event.id
        taken.add(event_id)
        members[event_id] += group.points

    moves: list[dict[str, uuid.UUID]] = []
    changed: set[uuid.UUID] = set()
    for event_id, points in members.items():
        event = events[event_id]
        moved = [p.media_id for p in points if p.event_id != event_id]
        moves += [{"media_id": m, "new_event_id": event_id} for m in moved]
        if moved or event.media_count != len(points):
            changed.add(event_id)
        times = [p.captured_at for p in points]
        bounds = (min(times), max(times), len(points))
        if (event.start, event.end, event.media_count) != bounds:
            event.start, event.end, event.media_count = bounds
            event.updated_at = utcnow()
    await session.flush()
    if moves:
        await repository.set_events(session, moves)
    stale = [event_id for event_id in events if event_id not in members]
    if stale:
        await repository.move_members(session, stale, None)
        await repository.drop_events(session, stale)
    relabel = await repository.labelled_events(session, changed) if changed else set()
    if relabel:
        await smooth_events(session, relabel, {e: events[e] for e in relabel})
    await session.flush()
    return len(moves)
