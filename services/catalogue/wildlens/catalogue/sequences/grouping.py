"""Grouping a deployment's media into events, with ids that stay stable.

Media closer together than the gap chain into one event (what TrapTagger and the
MegaDetector tools call a sequence). Regrouping keeps ids: each new group takes the id of the
earliest-starting old event among its members that no earlier group has taken, so a group
that only grew keeps its id, two groups bridged by a medium merge under the earlier id, and a
group split in two keeps the id on its first part.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["Chainer", "Group", "Point", "chain", "choose_id"]


@dataclass(frozen=True)
class Point:
    """One medium as grouping sees it."""

    media_id: uuid.UUID
    captured_at: datetime
    event_id: uuid.UUID | None


@dataclass
class Group:
    points: list[Point] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return self.points[0].captured_at

    @property
    def end(self) -> datetime:
        return self.points[-1].captured_at


class Chainer:
    """Takes points in capture order and hands back each group as soon as it is closed, so
    that a long deployment is grouped a page at a time."""

    def __init__(self, gap: timedelta) -> None:
        self.gap = gap
        self._group = Group()

    def add(self, point: Point) -> Group | None:
        """Adds ``point``; returns the group it closed, if it opened a new one."""
        closed = None
        if self._group.points and point.captured_at - self._group.end > self.gap:
            closed, self._group = self._group, Group()
        self._group.points.append(point)
        return closed

    def close(self) -> Group | None:
        """The last group, if any."""
        last, self._group = self._group, Group()
        return last if last.points else None


def chain(points: Iterable[Point], gap: timedelta) -> Iterator[Group]:
    """Groups of ``points`` (given in capture order) whose neighbours are at most ``gap``
    apart."""
    chainer = Chainer(gap)
    for point in points:
        closed = chainer.add(point)
        if closed is not None:
            yield closed
    last = chainer.close()
    if last is not None:
        yield last


def choose_id(
    candidates: Iterable[uuid.UUID | None],
    starts: Mapping[uuid.UUID, datetime],
    taken: set[uuid.UUID],
) -> uuid.UUID | None:
    """The id a group keeps: of its members' events, the one that started earliest (the id
    breaking ties) and is not ``taken`` by an earlier group; None when a new id is needed."""
    free = {c for c in candidates if c is not None and c not in taken and c in starts}
    if not free:
        return None
    return min(free, key=lambda c: (starts[c], str(c)))
