"""Label smoothing across an event: the majority of its animal labels.

A classifier that calls nine frames of a sequence a grey heron and one a bittern is most
likely wrong about the one (what MegaDetector's sequence smoothing and TrapTagger's cluster
labels rely on). Each animal detection votes with its label; a medium analysed by several
model versions votes with its latest run only. People outrank machines: once anyone labelled
an animal in the event, only people's labels vote; discarded observations never do. The
smoothed label is stored on the event and next to each machine observation's own label, which
is never changed; people's observations carry none.

New machine results are smoothed before they are stored (``Pending``): their observations go
in with their smoothed label already, rather than being written twice, and only events and
stored observations whose label changes are written.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from collections.abc import Sequence as Ordered
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Media, Sequence
from wildlens.catalogue.observations import repository
from wildlens.catalogue.observations.repository import (
    LABEL_COLUMNS,
    LABEL_PARAMETERS,
    clear_smoothing,
)
from wildlens.common.db import utcnow

__all__ = [
    "Label",
    "Pending",
    "Vote",
    "clear_smoothing",
    "majority",
    "smooth_event",
    "smooth_events",
    "smooth_events_of",
    "smoothed_label",
]


@dataclass(frozen=True)
class Vote:
    media_id: uuid.UUID | None
    method: str
    scientific_name: str
    taxon_id: uuid.UUID | None
    confidence: float | None
    # The model run that made a machine label (None for people's and imported labels).
    run_id: uuid.UUID | None = None
    run_at: datetime | None = None


@dataclass(frozen=True)
class Pending:
    """A machine observation about to be stored: its event, whether it is an animal, its vote."""

    event_id: uuid.UUID
    animal: bool
    vote: Vote


@dataclass(frozen=True)
class Label:
    scientific_name: str
    taxon_id: uuid.UUID | None
    method: str
    votes: int
    total: int


def _latest_runs(votes: Ordered[Vote]) -> list[Vote]:
    """Machine votes of each medium's latest model run (and those without a run)."""
    latest: dict[uuid.UUID | None, tuple[datetime, str]] = {}
    for v in votes:
        if v.run_id is not None and v.run_at is not None:
            key = (v.run_at, str(v.run_id))
            if v.media_id not in latest or key > latest[v.media_id]:
                latest[v.media_id] = key
    return [
        v for v in votes if v.run_id is None or (v.run_at, str(v.run_id)) == latest.get(v.media_id)
    ]


def majority(votes: Iterable[Vote]) -> Label | None:
    """The event's label: the most frequent scientific name among people's votes if there are
    any, else among the machine's latest; ties go to the higher summed confidence, then the
    name. None when nothing voted."""
    cast = [v for v in votes if v.scientific_name]
    human = [v for v in cast if v.method == "human"]
    method = "human" if human else "machine"
    counted = human or _latest_runs([v for v in cast if v.method == "machine"])
    if not counted:
        return None
    counts = Counter(v.scientific_name for v in counted)
    confidence: dict[str, float] = defaultdict(float)
    for v in counted:
        confidence[v.scientific_name] += v.confidence or 0.0
    name = min(counts, key=lambda n: (-counts[n], -confidence[n], n))
    taxa = Counter(v.taxon_id for v in counted if v.scientific_name == name and v.taxon_id)
    taxon_id = taxa.most_common(1)[0][0] if taxa else None
    return Label(name, taxon_id, method, counts[name], len(counted))


@dataclass(frozen=True)
class _Row:
    """One observation of an event as smoothing reads it."""

    event_id: uuid.UUID
    id: uuid.UUID
    animal: bool
    discarded: bool
    smoothed: tuple[str, uuid.UUID | None]
    vote: Vote


# An event's stored label, in LABEL_COLUMNS order (less updated_at).
_Stored = tuple[str, uuid.UUID | None, str, int, int]


async def _observations(
    session: AsyncSession, event_ids: Collection[uuid.UUID]
) -> tuple[list[_Row], dict[uuid.UUID, _Stored]]:
    """The events' observations, and each existing event's stored label, in one query."""
    result = await repository.smoothing_rows(session, event_ids)
    rows: list[_Row] = []
    stored: dict[uuid.UUID, _Stored] = {}
    for row in result:
        event_id, name, taxon, method, votes, total = row[:6]
        stored[event_id] = (name, taxon, method, votes, total)
        obs_id, kind, state, smoothed_name, smoothed_taxon, *vote = row[6:]
        if obs_id is None:
            continue
        rows.append(
            _Row(
                event_id,
                obs_id,
                kind == "animal",
                # What a person discarded (a false detection) has no say.
                state == "discarded",
                (smoothed_name, smoothed_taxon),
                Vote(*vote),
            )
        )
    return rows, stored


def smoothed_label(label: Label | None, animal: bool, method: str) -> tuple[str, uuid.UUID | None]:
    """The smoothed (name, taxon) an observation carries under its event's ``label``: machine
    animal labels carry the event's, everything else none."""
    if label and animal and method == "machine":
        return (label.scientific_name, label.taxon_id)
    return ("", None)


def _stored_form(label: Label | None) -> _Stored:
    if label is None:
        return ("", None, "", 0, 0)
    return (label.scientific_name, label.taxon_id, label.method, label.votes, label.total)


async def smooth_events(
    session: AsyncSession,
    event_ids: Collection[uuid.UUID],
    loaded: Mapping[uuid.UUID, Sequence] | None = None,
    pending: Ordered[Pending] = (),
) -> dict[uuid.UUID, Label | None]:
    """Recomputes the events' labels and puts each next to its machine observations' labels,
    in a few statements however many events (results arrive in batches): one read, one
    executemany for the events whose label changes, and on PostgreSQL one update of the
    stored observations whose smoothed label changes (elsewhere one per distinct new label).

    Args:
        session: the transaction to write in.
        event_ids: the events to smooth.
        loaded: the events' objects where the caller holds them, kept in step with what is
            written.
        pending: machine observations not stored yet that vote too; the caller stores them
            with ``smoothed_label`` of the returned labels.
    """
    if not event_ids:
        return {}
    # The statements below go past the session: what it holds must be written first.
    await session.flush()
    observations, stored = await _observations(session, event_ids)
    votes: dict[uuid.UUID, list[Vote]] = defaultdict(list)
    for row in observations:
        if row.animal and not row.discarded:
            votes[row.event_id].append(row.vote)
    for p in pending:
        if p.animal:
            votes[p.event_id].append(p.vote)
    labels = {e: majority(votes.get(e, [])) for e in event_ids}
    now = utcnow()
    # Events that exist and whose label changes: the others keep their row untouched.
    events: dict[uuid.UUID, dict[str, Any]] = {
        e: dict(zip(LABEL_PARAMETERS, (e, *_stored_form(label), now), strict=True))
        for e, label in labels.items()
        if e in stored and _stored_form(label) != stored[e]
    }
    # Stored observations whose smoothed label changes, by id.
    changed: dict[uuid.UUID, tuple[str, uuid.UUID | None]] = {}
    for row in observations:
        smoothed = smoothed_label(labels.get(row.event_id), row.animal, row.vote.method)
        if smoothed != row.smoothed:
            changed[row.id] = smoothed
    if events:
        await repository.write_event_labels(session, list(events.values()))
    await repository.write_smoothed(session, changed)
    for event_id, event in (loaded or {}).items():
        if event_id not in events:
            continue  # unchanged: the object already holds what the row holds
        for name, key in LABEL_COLUMNS.items():
            # The object learns what the statement wrote without becoming dirty.
            set_committed_value(event, name, events[event_id][key])
    return labels


async def smooth_event(session: AsyncSession, event: Sequence) -> Label | None:
    """Recomputes one event's label (see ``smooth_events``)."""
    return (await smooth_events(session, [event.id], {event.id: event}))[event.id]


async def smooth_events_of(session: AsyncSession, media: Iterable[Media]) -> None:
    """After new results for ``media``: the labels of their events again, each event once."""
    event_ids = {m.event_id for m in media if m.event_id is not None}
    await smooth_events(session, event_ids)
