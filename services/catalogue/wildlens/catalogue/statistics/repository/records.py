"""The SQL behind the statistics: detection records, independence, and the aggregates.

A detection record is a taxon seen in one sequence (Camtrap DP's event) at a deployment, with
a time and a number of individuals: each animal counts once (``COUNTING_RULE``, see
``grouped``), however many observations (event-level and media-level, one per frame) name it.
Records of one taxon at one location closer than the independence interval to the previous
record form one independent detection (the "last record" rule of camtrapR and most
occupancy work). The whole aggregation stays in the database (see ``_independent`` and
``_windows``), in SQL plain enough for PostgreSQL and SQLite alike.

The aggregates take their records as a subquery (taxon, location_id, epoch, local,
individuals, and where it is known ``previous``, the time of the record before):
``observed_records`` makes them from the observations, and the maintained
``detection_records`` hold the same rows (``summary_queries.stored_records``), made by
``grouped`` too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Integer,
    String,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    text,
    union_all,
)
from sqlalchemy import select as select_columns
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment, Media, Observation, Sequence, Taxon
from wildlens.catalogue.queries.filters import Filters, observation_conditions
from wildlens.catalogue.statistics.params import Scope

__all__ = [
    "COUNTING_RULE",
    "OnlySequences",
    "activity_by_hour",
    "aggregate_in_memory",
    "counts_by_location",
    "first_seen",
    "grouped",
    "media_by_deployment",
    "not_outranked",
    "observed_records",
    "offset_seconds",
]

SECONDS_PER_DAY = 86400
# Memory PostgreSQL may use per sort or hash of one statistics query: a project's records
# grouped in memory rather than spilled to disk, for this transaction only.
WORK_MEM = "64MB"


async def aggregate_in_memory(session: AsyncSession) -> None:
    """Let this transaction's aggregates run in memory (PostgreSQL; SQLite has no such limit).

    JIT compilation is turned off too: a project's statistics cost enough for PostgreSQL to
    compile them, and compiling takes longer than the few hundred milliseconds it could save.
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        await connection.execute(text("SET LOCAL jit = off"))


class epoch_seconds(FunctionElement[int]):
    """Whole seconds since 1970-01-01 UTC of a stored timestamp."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # UtcDateTime keeps UTC wall time in SQLite's text form, which strftime reads as UTC.
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def offset_seconds(offset: Any) -> ColumnElement[int]:
    """A deployment's ``utc_offset`` ("+01:00", "-05:30": validated on the way in) in seconds."""
    hours = cast(func.substr(offset, 2, 2), Integer)
    minutes = cast(func.substr(offset, 5, 2), Integer)
    sign = case((func.substr(offset, 1, 1) == "-", -1), else_=1)
    return sign * (hours * 3600 + minutes * 60)


def _current_animals(project_id: uuid.UUID, s: Scope) -> list[ColumnElement[bool]]:
    """Animal observations in the scope's taxon that nobody discarded.

    Verified means a person made or validated the label and nobody marked it dubious. Where a
    medium has a person's label its machine labels do not count beside it either (a
    correction is one animal, not two): ``not_outranked`` says so for machine labels.
    """
    where: list[ColumnElement[bool]] = [
        col(Observation.project_id) == project_id,
        col(Observation.observation_type) == "animal",
        col(Observation.verification_state) != "discarded",
        *observation_conditions(Filters(taxon_id=s.taxon_id)),
    ]
    if s.verified_only:
        where.append(col(Observation.classification_method) == "human")
        where.append(col(Observation.verification_state) != "dubious")
    return where


def not_outranked(project_id: uuid.UUID) -> ColumnElement[bool]:
    """For machine observations: their medium has no person's label (a person's label
    outranks the machine's, so a correction is one animal, not two; the review screens follow
    the same rule).

    An anti-join the planner runs as a hash of the (few) media with a person's label, read
    through their partial index, or as an index probe per medium when the scope is small.
    """
    human = aliased(Observation, name="human_label")
    return ~exists().where(
        col(human.media_id) == col(Observation.media_id),
        col(human.project_id) == project_id,
        col(human.classification_method) == "human",
        col(human.verification_state) != "discarded",
    )


COUNTING_RULE = "event-level where present, else MaxN over the sequence's media"


def _sequence(*keys: tuple[Any, str]) -> ColumnElement[str]:
    """The first of ``keys`` that is set, tagged with what it is (as the Darwin Core export
    keys sequences): the imported eventID, the catalogue's own sequence, the medium.

    The migration ``0013_detection_records``'s triggers name changed sequences the same way."""
    return func.coalesce(*(literal(tag) + cast(key, String) for key, tag in keys))


@dataclass(frozen=True)
class OnlySequences:
    """Only the observations of these sequences (``keys``, as ``_sequence`` makes them).

    ``observations`` names every observation they may have (a few more do no harm), so that
    the statement reads those rather than the project: their ids, sent as one array
    (PostgreSQL: the statement's text stays the same whatever their number), or a subquery
    (SQLite, which has no arrays and a limit on parameters).
    """

    keys: Seq[str]
    observations: Any
    arrays: bool

    def conditions(self, observation_id: Any, sequence: Any) -> list[ColumnElement[bool]]:
        if not self.arrays:
            return [observation_id.in_(self.observations), sequence.in_(list(self.keys))]
        ids = bindparam("only_observations", list(self.observations), type_=ARRAY(Uuid()))
        keys = bindparam("only_sequences", list(self.keys), type_=ARRAY(String()))
        return [observation_id == any_(ids), sequence == any_(keys)]


def _observations(project_id: uuid.UUID, s: Scope, only: OnlySequences | None) -> Any:
    """The scope's animal observations as a subquery: taxon, taxon_key (the taxon id as
    text, None where the observation has none), deployment_id, sequence, part (the medium, or
    "" for an event-level one), event_level (1 or 0), epoch, individuals.

    Media-level and event-level observations are two branches of a UNION ALL, so that each
    filters on a real column (the media's capture time, the event's start) that an index
    serves: a season at one site reads that season's media, not the whole project.
    """
    taxon = func.coalesce(col(Taxon.scientific_name), col(Observation.scientific_name))
    # Built once: both branches share the taxon subtree's CTE.
    animals = _current_animals(project_id, s)
    branches: list[Any] = []
    media_at, event_at = col(Media.captured_at), col(Observation.event_start)
    machine = col(Observation.classification_method) == "machine"
    # Imports store a missing eventID as "", not NULL.
    imported_event = (func.nullif(col(Observation.event_external_id), ""), "event:")
    # A medium's observations without an eventID of their own (the machine's, say) belong to
    # the sequence its event is: under the id an import gave that event, so that they and the
    # imported observations of the same sequence make one record, not two.
    media_sequence = _sequence(
        imported_event,
        (func.nullif(col(Sequence.external_id), ""), "event:"),
        (col(Media.event_id), "catalogue:"),
        (col(Media.id), "media:"),
    )
    event_sequence = _sequence(imported_event, (col(Observation.id), "observation:"))
    # (time, deployment, which observations, sequence, part, level): a person's media-level
    # labels; the machine's where no person labelled the medium; event-level observations.
    for at, deployment_id, which, sequence, part, level in (
        (media_at, col(Media.deployment_id), ~machine, media_sequence, col(Media.id), 0),
        (
            media_at,
            col(Media.deployment_id),
            and_(machine, not_outranked(project_id)),
            media_sequence,
            col(Media.id),
            0,
        ),
        (
            event_at,
            col(Observation.deployment_id),
            col(Observation.media_id).is_(None),
            event_sequence,
            None,
            1,
        ),
    ):
        where: list[ColumnElement[bool]] = [*animals, which, at.is_not(None), taxon != ""]
        if s.captured_from is not None:
            where.append(at >= s.captured_from)
        if s.captured_to is not None:
            where.append(at < s.captured_to)
        if s.location_ids:
            where.append(col(Deployment.location_id).in_(s.location_ids))
        if s.deployment_ids:
            where.append(col(Deployment.id).in_(s.deployment_ids))
        if only is not None:
            where += only.conditions(col(Observation.id), sequence)
        query: Any = select_columns(
            taxon.label("taxon"),
            cast(col(Observation.taxon_id), String).label("taxon_key"),
            col(Deployment.id).label("deployment_id"),
            sequence.label("sequence"),
            (literal("") if part is None else cast(part, String)).label("part"),
            literal(level).label("event_level"),
            epoch_seconds(at).label("epoch"),
            func.coalesce(col(Observation.count), 1).label("individuals"),
        ).select_from(Observation)
        if at is media_at:
            query = query.join(Media, col(Observation.media_id) == col(Media.id)).join(
                Sequence, col(Sequence.id) == col(Media.event_id), isouter=True
            )
        branches.append(
            query.join(Deployment, col(Deployment.id) == deployment_id)
            .join(Taxon, col(Taxon.id) == col(Observation.taxon_id), isouter=True)
            .where(*where)
        )
    return union_all(*branches).subquery("observations")


def grouped(project_id: uuid.UUID, s: Scope, only: OnlySequences | None = None) -> Any:
    """The scope's records as a subquery: taxon, deployment_id, sequence, epoch, individuals,
    first_epoch and last_epoch (the earliest and latest of its observations), and what taxon
    ids its observations carry (first_taxon and last_taxon, the smallest and largest as text;
    unresolved 1 where some carry none). One record per sequence and taxon, so that each
    animal counts once (``COUNTING_RULE``).

    A sequence's event-level observations of a taxon say how many animals it held (their
    counts added: a row per sex or life stage); where it has none, its media-level ones do,
    as the most counted in any one medium (MaxN: the same animals walk through every frame,
    so adding the frames would count them again). The record's time is the event's start,
    else its first medium's capture.
    """
    o = _observations(project_id, s, only).c
    group = (o.taxon, o.deployment_id, o.sequence)
    # Each medium's (or the event-level rows') animals of the taxon together.
    parts = (
        select_columns(
            *group,
            o.event_level,
            func.min(o.epoch).label("epoch"),
            func.max(o.epoch).label("last_epoch"),
            func.sum(o.individuals).label("individuals"),
            func.min(o.taxon_key).label("first_taxon"),
            func.max(o.taxon_key).label("last_taxon"),
            func.max(case((o.taxon_key.is_(None), 1), else_=0)).label("unresolved"),
        )
        .group_by(*group, o.event_level, o.part)
        .subquery("parts")
    )
    p = parts.c
    pgroup = (p.taxon, p.deployment_id, p.sequence)
    # Per level: the most in one medium (event-level rows are one part).
    levels = (
        select_columns(
            *pgroup,
            p.event_level,
            func.min(p.epoch).label("epoch"),
            func.max(p.last_epoch).label("last_epoch"),
            func.max(p.individuals).label("individuals"),
            func.min(p.first_taxon).label("first_taxon"),
            func.max(p.last_taxon).label("last_taxon"),
            func.max(p.unresolved).label("unresolved"),
        )
        .group_by(*pgroup, p.event_level)
        .subquery("levels")
    )
    v = levels.c
    event = v.event_level == 1
    return (
        select_columns(
            v.taxon,
            v.deployment_id,
            v.sequence,
            func.coalesce(func.min(case((event, v.epoch))), func.min(v.epoch)).label("epoch"),
            func.coalesce(func.max(case((event, v.individuals))), func.max(v.individuals)).label(
                "individuals"
            ),
            func.min(v.epoch).label("first_epoch"),
            func.max(v.last_epoch).label("last_epoch"),
            func.min(v.first_taxon).label("first_taxon"),
            func.max(v.last_taxon).label("last_taxon"),
            func.max(v.unresolved).label("unresolved"),
        )
        .group_by(v.taxon, v.deployment_id, v.sequence)
        .subquery("records")
    )


def _at_locations(records: Any) -> Any:
    """``records`` (taxon, deployment_id, epoch, individuals, and more) as the aggregates
    take them: taxon, location_id, epoch, local (epoch in the camera's local time),
    individuals; the location and the clock offset are the deployment's now."""
    r = records.c
    return (
        select_columns(
            r.taxon,
            col(Deployment.location_id).label("location_id"),
            r.epoch,
            (r.epoch + offset_seconds(col(Deployment.utc_offset))).label("local"),
            r.individuals,
        )
        .select_from(records)
        .join(Deployment, col(Deployment.id) == r.deployment_id)
        .subquery("located")
    )


def observed_records(project_id: uuid.UUID, s: Scope) -> Any:
    """The scope's records made from its observations, as the aggregates take them (each
    record's previous one found by the aggregates)."""
    return _at_locations(grouped(project_id, s))


def _independent(records: Any, interval_s: int) -> Any:
    """The records, each with ``independent`` 1 where it starts a detection: it is the first
    of its taxon at its location, or more than the interval after the one before (the
    "last record" rule).

    The record before each is the records' own ``previous`` where they have one (the
    maintained records keep it), else one window function over the records in (location,
    taxon, time) order finds it. It counts the same detections as ``_windows`` (a window's
    first record is more than the interval after the previous window's last exactly when it
    is after the record before it; any other record of a window is less than the interval
    after the one before).
    """
    r = records.c
    if "previous" in r:
        previous = r.previous
    else:
        previous = func.lag(r.epoch).over(partition_by=(r.location_id, r.taxon), order_by=r.epoch)
    independent = case((r.epoch - previous <= interval_s, 0), else_=1)
    return select_columns(
        r.taxon,
        r.location_id,
        r.local,
        r.individuals,
        independent.label("independent"),
    ).subquery("runs")


def _windows(records: Any, interval_s: int) -> Any:
    """The records folded into runs, with ``independent`` 1 where a run starts a detection,
    and ``local_first`` the smallest local time of the run's records.

    Records are first grouped per taxon, location and window of ``interval_s`` seconds (a
    hash aggregate: no sort of the records themselves). Inside one window every record is
    less than the interval after the one before, so only a window's first record can start a
    detection, and it does when the previous window is empty or its last record is more than
    the interval earlier: a window function over the windows, not over every record, decides.
    """
    r = records.c
    # Whole seconds: with no interval, records in the same second are still one detection.
    window = (r.epoch // max(interval_s, 1)).label("window")
    # More columns than sqlmodel's typed select takes; the subquery only feeds other selects.
    windows = (
        select_columns(
            r.taxon,
            r.location_id,
            window,
            func.min(r.epoch).label("first"),
            func.max(r.epoch).label("last"),
            func.min(r.local).label("local_first"),
        )
        .group_by(r.taxon, r.location_id, window)
        .subquery("windows")
    )
    w = windows.c
    partition = (w.taxon, w.location_id)
    previous_window = func.lag(w.window).over(partition_by=partition, order_by=w.window)
    previous_last = func.lag(w.last).over(partition_by=partition, order_by=w.window)
    independent = case(
        (previous_window.is_(None), 1),
        (previous_window < w.window - 1, 1),
        (w.first - previous_last > interval_s, 1),
        else_=0,
    )
    return select_columns(
        w.taxon,
        w.location_id,
        w.local_first,
        independent.label("independent"),
    ).subquery("runs")


async def counts_by_location(
    session: AsyncSession, records: Any, interval_s: int
) -> list[tuple[str, uuid.UUID, int, int, int]]:
    """(taxon, location id, independent detections, records, individuals) per taxon and
    location of ``records``; individuals sum the records' counts (1 where a record has
    none)."""
    r = _independent(records, interval_s).c
    query = select_columns(
        r.taxon, r.location_id, func.sum(r.independent), func.count(), func.sum(r.individuals)
    ).group_by(r.location_id, r.taxon)
    rows: Any = (await session.exec(query)).all()  # type: ignore[call-overload]
    return [(t, loc, int(d), int(n), int(i)) for t, loc, d, n, i in rows]


async def activity_by_hour(
    session: AsyncSession, records: Any, interval_s: int, *, one_offset: bool
) -> list[tuple[str, int, int]]:
    """(taxon, local hour 0-23, independent detections) of ``records``, at the hour each
    detection started; local time is the deployment's clock offset (the standard time of the
    place: trail cameras ignore daylight saving).

    A detection's hour is that of the earliest local time among the records of its first
    window (``_windows``): the first record's own where the cameras at each location share a
    clock offset (``one_offset``), read in one pass; otherwise the windows are made.
    """
    if one_offset:
        r = _independent(records, interval_s).c
        local = r.local
    else:
        r = _windows(records, interval_s).c
        local = r.local_first
    hour = (local % SECONDS_PER_DAY) // 3600
    query = (
        select(r.taxon, hour.label("hour"), func.count())
        .where(r.independent == 1)
        .group_by(r.taxon, hour)
    )
    rows = (await session.exec(query)).all()
    return [(t, int(h), int(n)) for t, h, n in rows]


async def first_seen(session: AsyncSession, records: Any) -> dict[str, datetime]:
    """Each taxon's first record of ``records``: the first of one of its series, where the
    records know which those are (``previous``)."""
    r = records.c
    query = select_columns(r.taxon, func.min(r.epoch)).group_by(r.taxon)
    if "previous" in r:
        query = query.where(r.previous.is_(None))
    rows: Any = (await session.exec(query)).all()  # type: ignore[call-overload]
    return {taxon: datetime.fromtimestamp(int(epoch), UTC) for taxon, epoch in rows}


async def media_by_deployment(
    session: AsyncSession, project_id: uuid.UUID, s: Scope
) -> list[tuple[uuid.UUID, int, int]]:
    """(deployment id, media, media with at least one animal observation in the scope's taxon
    and verification filters) for every deployment with media in the scope.

    Two queries, each joined from the scope's media, so that a season at one site reads that
    season's media and their observations only."""
    where: list[ColumnElement[bool]] = [
        col(Media.project_id) == project_id,
        col(Media.deployment_id).is_not(None),
    ]
    if s.captured_from is not None:
        where.append(col(Media.captured_at) >= s.captured_from)
    if s.captured_to is not None:
        where.append(col(Media.captured_at) < s.captured_to)
    if s.deployment_ids:
        where.append(col(Media.deployment_id).in_(s.deployment_ids))
    if s.location_ids:
        at_locations = select(col(Deployment.id)).where(
            col(Deployment.location_id).in_(s.location_ids)
        )
        where.append(col(Media.deployment_id).in_(at_locations))
    deployment = col(Media.deployment_id)
    totals = select(deployment, func.count()).where(*where).group_by(deployment)
    current = _current_animals(project_id, s)
    machine = col(Observation.classification_method) == "machine"
    # A person's animal label, or the machine's where no person labelled the medium.
    labelled = union_all(
        *(
            select_columns(deployment.label("deployment_id"), col(Media.id).label("media_id"))
            .select_from(Media)
            .join(Observation, col(Observation.media_id) == col(Media.id))
            .where(*where, *current, which)
            for which in (~machine, and_(machine, not_outranked(project_id)))
        )
    ).subquery("labelled")
    with_animal = select(
        labelled.c.deployment_id, func.count(func.distinct(labelled.c.media_id))
    ).group_by(labelled.c.deployment_id)
    animals = {d: int(n) for d, n in (await session.exec(with_animal)).all()}
    rows = (await session.exec(totals)).all()
    return [(d, int(n), animals.get(d, 0)) for d, n in rows if d is not None]
