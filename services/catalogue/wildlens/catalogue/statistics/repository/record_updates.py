"""The statements that bring a project's detection records up to date.

A refresh takes the project's notes of changed sequences from ``detection_record_changes``
(written by the triggers of migration ``0013_detection_records``), deletes the records of
those sequences and makes them again from their observations with ``records.grouped`` (or
the whole project's at once), then brings the ``previous_epoch`` of the records around them
up to date (``record_order``); ``summaries`` decides which, and when.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    String,
    Uuid,
    any_,
    bindparam,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    true,
    union_all,
)
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from wildlens.catalogue.models import (
    Deployment,
    DetectionRecord,
    DetectionRecordChange,
    Media,
    Observation,
)
from wildlens.catalogue.models import Sequence as Event
from wildlens.catalogue.statistics.params import Scope
from wildlens.catalogue.statistics.repository.record_order import (
    Point,
    previous_in_order,
    renumber,
)
from wildlens.catalogue.statistics.repository.records import (
    OnlySequences,
    grouped,
    offset_seconds,
)

__all__ = [
    "SEQUENCES_PER_STATEMENT",
    "changed_projects",
    "has_changes",
    "recompute_project",
    "recompute_sequences",
    "recorded",
    "take_changes",
]

_RECORDS = DetectionRecord.__table__  # type: ignore[attr-defined]
_CHANGES = DetectionRecordChange.__table__  # type: ignore[attr-defined]

# Sequences per statement: a consumer's batches at once. SQLite, which sends each key and id
# as a parameter of its own, takes fewer.
SEQUENCES_PER_STATEMENT = {"postgresql": 5000, "sqlite": 400}

COLUMNS = [
    "project_id",
    "verified",
    "deployment_id",
    "location_id",
    "utc_offset_s",
    "sequence",
    "taxon",
    "taxon_id",
    "taxon_ids",
    "unresolved",
    "epoch",
    "first_epoch",
    "last_epoch",
    "individuals",
]


def _rows(project_id: uuid.UUID, verified: bool, only: OnlySequences | None) -> Any:
    """The records (``COLUMNS``) of the project's sequences (``only``; None: all of them,
    then with their ``previous_epoch`` too), counted from every current label or from the
    verified ones alone."""
    records = grouped(project_id, Scope(verified_only=verified), only)
    r = records.c
    one = r.first_taxon == r.last_taxon
    location = col(Deployment.location_id)
    previous = (
        []
        if only is not None
        else [
            previous_in_order(location, r.taxon, r.epoch, (r.deployment_id, r.sequence)).label(
                "previous_epoch"
            )
        ]
    )
    return (
        select_columns(
            literal(project_id, Uuid()).label("project_id"),
            (true() if verified else false()).label("verified"),
            r.deployment_id,
            location.label("location_id"),
            offset_seconds(col(Deployment.utc_offset)).label("utc_offset_s"),
            r.sequence,
            r.taxon,
            # The one taxon id, back from its text (the smallest and the largest are the same).
            case((one, cast(r.first_taxon, Uuid()))).label("taxon_id"),
            case((r.first_taxon.is_(None), 0), (one, 1), else_=2).label("taxon_ids"),
            (r.unresolved == 1).label("unresolved"),
            r.epoch,
            r.first_epoch,
            r.last_epoch,
            r.individuals,
            *previous,
        )
        .select_from(records)
        .join(Deployment, col(Deployment.id) == r.deployment_id)
    )


def _points(rows: Any) -> list[Point]:
    return [(bool(v), loc, taxon, int(epoch)) for v, loc, taxon, epoch in rows.all()]


_POINT = (_RECORDS.c.verified, _RECORDS.c.location_id, _RECORDS.c.taxon, _RECORDS.c.epoch)


async def _insert(
    connection: AsyncConnection, project_id: uuid.UUID, only: OnlySequences
) -> list[Point]:
    """Add the records of the sequences ``only``; answers where they went."""
    added: list[Point] = []
    for verified in (False, True):
        rows = _rows(project_id, verified, only)
        inserted = await connection.execute(
            insert(_RECORDS).from_select(COLUMNS, rows).returning(*_POINT)
        )
        added += _points(inserted)
    return added


async def recompute_project(connection: AsyncConnection, project_id: uuid.UUID) -> None:
    """Replace all of the project's detection records with fresh ones."""
    await connection.execute(delete(_RECORDS).where(_RECORDS.c.project_id == project_id))
    for verified in (False, True):
        rows = _rows(project_id, verified, None)
        await connection.execute(insert(_RECORDS).from_select([*COLUMNS, "previous_epoch"], rows))


@dataclass
class _Named:
    """Sequence keys taken apart by what they name (see ``records._sequence``)."""

    media: list[uuid.UUID] = field(default_factory=list)
    events: list[uuid.UUID] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    observations: list[uuid.UUID] = field(default_factory=list)

    @classmethod
    def parse(cls, keys: Sequence[str]) -> _Named:
        named = cls()
        by_tag: dict[str, list[uuid.UUID]] = {
            "media": named.media,
            "catalogue": named.events,
            "observation": named.observations,
        }
        for key in keys:
            tag, _, value = key.partition(":")
            if tag == "event":
                named.imported.append(value)
            elif tag in by_tag:
                by_tag[tag].append(uuid.UUID(value))
        return named


def _candidates(project_id: uuid.UUID, keys: Sequence[str], arrays: bool) -> Any:
    """The ids of every observation that may belong to the sequences ``keys``: of their
    media, of their events' media, of the events an import named (their own eventID, or
    their medium's event's), and the event-level observations named themselves; each found
    through an index."""
    named = _Named.parse(keys)

    def among(column: Any, name: str, values: list[Any], item: Any) -> Any:
        if arrays:
            return column == any_(bindparam(name, values, type_=ARRAY(item)))
        return column.in_(values)

    observation = col(Observation.id)
    parts: list[Any] = []
    if named.media:
        media = among(col(Observation.media_id), "media", named.media, Uuid())
        parts.append(select_columns(observation).where(media))
    if named.events:
        events = among(col(Media.event_id), "events", named.events, Uuid())
        parts.append(
            select_columns(observation)
            .join(Media, col(Media.id) == col(Observation.media_id))
            .where(events)
        )
    if named.imported:
        own = among(col(Observation.event_external_id), "imported", named.imported, String())
        parts.append(
            select_columns(observation).where(col(Observation.project_id) == project_id, own)
        )
        theirs = among(col(Event.external_id), "imported", named.imported, String())
        parts.append(
            select_columns(observation)
            .join(Media, col(Media.id) == col(Observation.media_id))
            .join(Event, col(Event.id) == col(Media.event_id))
            .where(col(Event.project_id) == project_id, theirs)
        )
    if named.observations:
        named_ids = among(observation, "observations", named.observations, Uuid())
        parts.append(select_columns(observation).where(named_ids))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else union_all(*parts)


async def _recompute_sequences(
    connection: AsyncConnection, project_id: uuid.UUID, keys: Sequence[str]
) -> None:
    arrays = connection.dialect.name == "postgresql"
    removed = await connection.execute(
        delete(_RECORDS)
        .where(
            _RECORDS.c.project_id == project_id,
            _RECORDS.c.sequence == any_(bindparam("keys", list(keys), type_=ARRAY(String())))
            if arrays
            else _RECORDS.c.sequence.in_(list(keys)),
        )
        .returning(*_POINT)
    )
    points = _points(removed)
    candidates = _candidates(project_id, keys, arrays)
    if candidates is not None and arrays:
        # Looked up first, then named by id: the planner sees how few they are and reads
        # them by index rather than joining the project's observations to a subquery.
        found = [i for (i,) in (await connection.execute(candidates)).all()]
        if found:
            points += await _insert(connection, project_id, OnlySequences(keys, found, True))
    elif candidates is not None:
        points += await _insert(connection, project_id, OnlySequences(keys, candidates, False))
    await renumber(connection, project_id, points)


async def recompute_sequences(
    connection: AsyncConnection, project_id: uuid.UUID, keys: Sequence[str]
) -> None:
    """Replace the detection records of the sequences ``keys`` with fresh ones."""
    per = SEQUENCES_PER_STATEMENT.get(connection.dialect.name, 400)
    for i in range(0, len(keys), per):
        await _recompute_sequences(connection, project_id, keys[i : i + per])


async def recorded(connection: AsyncConnection, project_id: uuid.UUID) -> int:
    """How many detection records the project has now."""
    query = select_columns(func.count()).select_from(_RECORDS)
    counted = await connection.execute(query.where(_RECORDS.c.project_id == project_id))
    return int(counted.scalar_one())


async def has_changes(connection: AsyncConnection, project_id: uuid.UUID) -> bool:
    """Whether any sequence of the project awaits a refresh."""
    pending = await connection.execute(
        select_columns(_CHANGES.c.id).where(_CHANGES.c.project_id == project_id).limit(1)
    )
    return pending.first() is not None


async def take_changes(connection: AsyncConnection, project_id: uuid.UUID) -> set[str | None]:
    """The project's changed sequences (None: all of them), their notes deleted."""
    taken = await connection.execute(
        delete(_CHANGES).where(_CHANGES.c.project_id == project_id).returning(_CHANGES.c.sequence)
    )
    return {sequence for (sequence,) in taken.all()}


async def changed_projects(connection: AsyncConnection) -> list[uuid.UUID]:
    """The projects with sequences awaiting a refresh."""
    rows = await connection.execute(select_columns(_CHANGES.c.project_id).distinct())
    return [r for (r,) in rows.all()]
