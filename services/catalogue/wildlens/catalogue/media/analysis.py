"""``media.analyzed`` → machine observations, once per medium and model version.

Analyses arrive as fast as inference runs, so a whole batch is stored with a fixed number of
statements whatever its size: one to record the events as handled, one for the media with the
runs already stored, one for the label map entries and one for the taxa the batch names (a
classifier's label resolves through the project's label map, else its scientific name through
the taxon tree), then the events' smoothing (``events.smoothing``), and, on PostgreSQL, one
statement that inserts the runs and observations and marks the media analysed. That statement
carries one array per value that differs between detections; what a run's detections share
travels once per run, and the columns a machine observation leaves at their defaults once per
batch, because encoding array elements is much of what a batch costs the consumer's process.
Smoothing comes before the insert, the batch's detections voting as they are about to be
stored, so each observation goes in with its event's label rather than being written twice.

A machine result never touches a person's: each model version's observations are rows of
their own, and the label a medium shows is the human one where there is one
(``observations.current``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Table, bindparam, insert, text, tuple_, update
from sqlalchemy import select as select_columns
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.alerts.matching import queue_alerts
from wildlens.catalogue.models import LabelMapEntry, Media, ModelRun, Observation, Taxon
from wildlens.catalogue.sequences.smoothing import Pending, Vote, smooth_events, smoothed_label
from wildlens.common.db import utcnow
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.media_pb2 import Classification, MediaAnalyzed
from wildlens.common.service import ServiceContext

__all__ = ["MediaNotRecordedYet", "analyzed_consumer", "first_deliveries", "store_analysis"]

# MegaDetector's categories → Camtrap DP's observationType.
OBSERVATION_TYPES = {"animal": "animal", "person": "human", "human": "human", "vehicle": "vehicle"}


class MediaNotRecordedYet(RuntimeError):
    """The analysis overtook the recording; redelivery will find the media."""


@dataclass(frozen=True)
class _Analysis:
    event: MediaAnalyzed
    analyzed_at: datetime
    # Each detection's most probable classification (None without one), found once.
    tops: list[Classification | None]
    # The medium: only the columns the batch needs (whole media rows, with their metadata,
    # cost the consumer more to load than the analyses cost to store).
    media_id: uuid.UUID
    project_id: uuid.UUID
    deployment_id: uuid.UUID | None
    event_id: uuid.UUID | None
    # When an earlier run analysed the medium (None: never).
    previously_analyzed_at: datetime | None
    # Label maps are kept per classifier; a detector that labels species itself (no separate
    # classifier) is its own classifier.
    label_model: str


async def first_deliveries(
    session: AsyncSession, table: Table, envelopes: Sequence[Envelope], consumer: str
) -> list[Envelope]:
    """The envelopes ``consumer`` has not handled before, recorded as handled in one statement."""
    unique = list({e.event_id: e for e in envelopes}.values())
    if not unique:
        return []
    connection = await session.connection()
    now = utcnow()
    if connection.dialect.name == "postgresql":
        # One array parameter: the same prepared statement serves every batch size.
        statement: Any = text(
            f'INSERT INTO "{table.name}" (event_id, consumer, processed_at) '
            "SELECT unnest(CAST(:ids AS VARCHAR[])), :consumer, :at "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        ).bindparams(ids=[e.event_id for e in unique], consumer=consumer, at=now)
    else:
        statement = (
            sqlite_insert(table)
            .values(
                [
                    {"event_id": e.event_id, "consumer": consumer, "processed_at": now}
                    for e in unique
                ]
            )
            .on_conflict_do_nothing()
            .returning(table.c.event_id)
        )
    fresh = set((await connection.execute(statement)).scalars().all())
    return [e for e in unique if e.event_id in fresh]


@dataclass(frozen=True)
class _Rows:
    """A batch's rows: each run's whole, and each detection's as (its run's position from 1,
    then the ``_DETECTION`` values); the rest of an observation comes from its run
    (``_from_run``) or is the same for every machine observation (``_OBSERVATION_CONSTANTS``)."""

    runs: list[dict[str, Any]]
    # (project, deployment) of each run's medium.
    run_media: list[tuple[uuid.UUID, uuid.UUID | None]]
    detections: list[tuple[Any, ...]]


# What differs between the detections of one run, in the order ``_Rows.detections`` holds it.
_DETECTION = (
    "observation_type",
    "category",
    "confidence",
    "bbox_x",
    "bbox_y",
    "bbox_width",
    "bbox_height",
    "scientific_name",
    "classification_confidence",
    "taxon_id",
    # The event's label, as smoothing gives it before the batch is stored.
    "smoothed_scientific_name",
    "smoothed_taxon_id",
)

# Observation columns a detection shares with its run's other detections but that the run's
# own row lacks (the statement takes them from arrays of one value per run).
_RUN_SHARED = ("project_id", "deployment_id", "classified_by")


def _from_run(
    run: dict[str, Any], project_id: uuid.UUID, deployment_id: uuid.UUID | None
) -> dict[str, Any]:
    """The observation columns a detection takes from its run and medium."""
    return {
        "project_id": project_id,
        "media_id": run["media_id"],
        "model_run_id": run["id"],
        "deployment_id": deployment_id,
        "classified_by": f"{run['model_name']}@{run['model_version']}",
        "classified_at": run["analyzed_at"],
        "classification_timestamp": run["analyzed_at"],
    }


async def _write(session: AsyncSession, rows: _Rows, analyzed: dict[uuid.UUID, datetime]) -> None:
    """The batch's runs and observations in, its media marked analysed.

    On PostgreSQL that is one statement (two inserts as writable CTEs and the update, the
    values in arrays), so a batch costs one round trip whatever its size.
    """
    connection = await session.connection()
    per_run = [_from_run(r, *m) for r, m in zip(rows.runs, rows.run_media, strict=True)]
    if connection.dialect.name == "postgresql":
        # Columns of the detections: their run's position, then each _DETECTION value.
        detections = [list(c) for c in zip(*rows.detections, strict=True)] or [
            [] for _ in range(1 + len(_DETECTION))
        ]
        args = [
            *_columns(_table(ModelRun), rows.runs),
            *([r[name] for r in per_run] for name in _RUN_SHARED),
            *detections,
            *_OBSERVATION_CONSTANTS.values(),
            list(analyzed),
            list(analyzed.values()),
        ]
        raw = await connection.get_raw_connection()
        # The driver's own connection, inside the transaction the session already began.
        driver: Any = raw.driver_connection
        await driver.execute(_pg_write_statement(), *args)
        return
    if rows.runs:
        await connection.execute(insert(_table(ModelRun)), rows.runs)
    if rows.detections:
        observations = [
            {
                **_OBSERVATION_CONSTANTS,
                **per_run[run - 1],
                **dict(zip(_DETECTION, values, strict=True)),
                "id": uuid.uuid4(),
            }
            for run, *values in rows.detections
        ]
        await connection.execute(insert(_table(Observation)), observations)
    if analyzed:
        media = _table(Media)
        await connection.execute(
            update(media)
            .where(media.c.id == bindparam("media_id"))
            .values(status="analyzed", analyzed_at=bindparam("at")),
            [{"media_id": m, "at": at} for m, at in analyzed.items()],
        )


def _columns(table: Table, rows: list[dict[str, Any]]) -> list[list[Any]]:
    """``rows`` as one list per column of ``table``, in column order."""
    out: list[list[Any]] = []
    for column in table.columns:
        name = column.name
        values = [row[name] for row in rows]
        if isinstance(column.type, JSON):
            values = [json.dumps(v) for v in values]
        out.append(values)
    return out


@cache
def _pg_write_statement() -> str:
    """The statement ``_write`` runs on PostgreSQL; its parameters in ``_write``'s order."""
    dialect = asyncpg.dialect()  # type: ignore[no-untyped-call]
    runs, observations = _table(ModelRun), _table(Observation)
    position = 0

    def parameter(table: Table, name: str, *, array: bool = True) -> str:
        nonlocal position
        position += 1
        sql_type = table.c[name].type.compile(dialect=dialect)
        return f"${position}::{sql_type}{'[]' if array else ''}"

    run_arrays = {c.name: parameter(runs, c.name) for c in runs.columns}
    shared = {name: parameter(observations, name) for name in _RUN_SHARED}
    position += 1
    run_position = f"${position}::integer[]"
    detection = {name: parameter(observations, name) for name in _DETECTION}
    constants = {
        name: parameter(observations, name, array=False) for name in _OBSERVATION_CONSTANTS
    }
    ids, times = position + 1, position + 2

    # Each observation column from its run (r), its detection (d) or the batch's constants.
    sources = {
        "id": "gen_random_uuid()",
        "media_id": "r.media_id",
        "model_run_id": "r.id",
        "classified_at": "r.analyzed_at",
        "classification_timestamp": "r.analyzed_at",
        **{name: f"r.{name}" for name in _RUN_SHARED},
        **{name: f"d.{name}" for name in _DETECTION},
        **constants,
    }
    columns = [c.name for c in observations.columns]
    if set(sources) != set(columns):
        raise RuntimeError(f"observation columns without a source: {set(columns) ^ set(sources)}")
    run_columns = ", ".join(f'"{name}"' for name in run_arrays)
    observation_columns = ", ".join(f'"{name}"' for name in columns)
    return (
        f'WITH runs AS (INSERT INTO "{runs.name}" ({run_columns}) '
        f"SELECT * FROM unnest({', '.join(run_arrays.values())})), "
        f'observations AS (INSERT INTO "{observations.name}" ({observation_columns}) '
        f"SELECT {', '.join(sources[c] for c in columns)} "
        f"FROM unnest({run_position}, {', '.join(detection.values())}) "
        f"AS d(run, {', '.join(detection)}) "
        f"JOIN unnest({run_arrays['id']}, {run_arrays['media_id']}, "
        f"{run_arrays['analyzed_at']}, {', '.join(shared.values())}) WITH ORDINALITY "
        f"AS r(id, media_id, analyzed_at, {', '.join(shared)}, n) ON r.n = d.run) "
        "UPDATE media SET status = 'analyzed', analyzed_at = v.at "
        f"FROM unnest(${ids}::uuid[], ${times}::timestamptz[]) AS v(id, at) "
        "WHERE media.id = v.id"
    )


async def store_analysis(
    session: AsyncSession, envelopes: Sequence[Envelope]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Store a batch of analyses; (media id, project id) of the media whose analyses were new
    (each once)."""
    if not envelopes:
        return []
    analyses = await _new_analyses(session, envelopes)
    if not analyses:
        return []
    label_taxa = await _label_map(session, analyses)
    name_taxa = await _taxa_by_name(session, analyses, label_taxa)

    rows = _Rows([], [], [])
    # The votes of detections of media in an event, by their position in rows.detections.
    pending: dict[int, Pending] = {}
    now = utcnow()
    for a in analyses:
        event = a.event
        run_id = uuid.uuid4()
        rows.runs.append(
            {
                "id": run_id,
                "media_id": a.media_id,
                "model_name": event.detector.name,
                "model_version": event.detector.version,
                "model_sha256": event.detector.sha256,
                "classifier_name": event.classifier.name,
                "classifier_version": event.classifier.version,
                "detection_threshold": event.detection_threshold,
                "failure": event.failure,
                "timings_ms": dict(event.timings_ms),
                "analyzed_at": a.analyzed_at,
                "recorded_at": now,
            }
        )
        rows.run_media.append((a.project_id, a.deployment_id))
        run = len(rows.runs)
        for detection, top in zip(event.detections, a.tops, strict=True):
            taxon_id = None
            if top is not None:
                taxon_id = label_taxa.get(
                    (a.project_id, a.label_model, top.label)
                ) or name_taxa.get(top.scientific_name)
            observation_type = OBSERVATION_TYPES.get(detection.category, "unknown")
            name = top.scientific_name if top else ""
            box = detection.bbox
            rows.detections.append(
                (
                    run,
                    observation_type,
                    detection.category,
                    detection.confidence,
                    box.x,
                    box.y,
                    box.width,
                    box.height,
                    name,
                    top.confidence if top else None,
                    taxon_id,
                    # Smoothed below, for media in an event.
                    "",
                    None,
                )
            )
            if a.event_id is not None:
                vote = Vote(
                    a.media_id,
                    "machine",
                    name,
                    taxon_id,
                    detection.confidence,
                    run_id,
                    a.analyzed_at,
                )
                pending[len(rows.detections) - 1] = Pending(
                    a.event_id, observation_type == "animal", vote
                )
    # Smoothed before they are stored (see the module's docstring).
    event_ids = {a.event_id for a in analyses if a.event_id is not None}
    labels = await smooth_events(session, event_ids, pending=list(pending.values()))
    for i, p in pending.items():
        smoothed = smoothed_label(labels.get(p.event_id), p.animal, "machine")
        rows.detections[i] = (*rows.detections[i][:-2], *smoothed)
    analyzed = _analyzed_times(analyses)
    await _write(session, rows, analyzed)
    return list({a.media_id: a.project_id for a in analyses}.items())


async def _new_analyses(session: AsyncSession, envelopes: Sequence[Envelope]) -> list[_Analysis]:
    """The batch's analyses of recorded media that no earlier run of the same model stored."""
    events = [(unpack(e, MediaAnalyzed), e) for e in envelopes]
    media_ids = [uuid.UUID(event.media_id) for event, _ in events]
    ids = set(media_ids)
    # The media and the runs already stored for them, in one round trip.
    connection = await session.connection()
    rows = (
        await connection.execute(
            select_columns(
                col(Media.id),
                col(Media.project_id),
                col(Media.deployment_id),
                col(Media.event_id),
                col(Media.analyzed_at),
                col(ModelRun.model_name),
                col(ModelRun.model_version),
            )
            .join(ModelRun, col(ModelRun.media_id) == col(Media.id), isouter=True)
            .where(col(Media.id).in_(ids))
        )
    ).all()
    media = {row[0]: row[:5] for row in rows}
    missing = ids - set(media)
    if missing:
        # The whole batch comes back; by then the recording has caught up.
        raise MediaNotRecordedYet(f"media {sorted(map(str, missing))} not recorded yet")
    stored = {(m, name, version) for m, *_, name, version in rows if name is not None}
    analyses: list[_Analysis] = []
    for (event, envelope), media_id in zip(events, media_ids, strict=True):
        key = (media_id, event.detector.name, event.detector.version)
        if key in stored:
            continue
        stored.add(key)
        analyzed_at = (
            event.analyzed_at.ToDatetime(tzinfo=UTC)
            if event.HasField("analyzed_at")
            else envelope.occurred_at
        )
        tops = [max(d.classifications, key=_probability, default=None) for d in event.detections]
        _, project_id, deployment_id, event_id, previously = media[media_id]
        analyses.append(
            _Analysis(
                event,
                analyzed_at,
                tops,
                media_id,
                project_id,
                deployment_id,
                event_id,
                previously,
                event.classifier.name or event.detector.name,
            )
        )
    return analyses


def _probability(c: Classification) -> float:
    return float(c.confidence)


def _top_labels(analyses: list[_Analysis]) -> list[tuple[_Analysis, Classification]]:
    return [(a, top) for a in analyses for top in a.tops if top is not None]


async def _label_map(
    session: AsyncSession, analyses: list[_Analysis]
) -> dict[tuple[uuid.UUID, str, str], uuid.UUID]:
    """(project, model, label) → taxon, for the labels the batch uses."""
    keys = {(a.project_id, a.label_model, c.label) for a, c in _top_labels(analyses)}
    if not keys:
        return {}
    rows = await session.exec(
        select(
            LabelMapEntry.project_id,
            LabelMapEntry.model_name,
            LabelMapEntry.label,
            LabelMapEntry.taxon_id,
        ).where(
            tuple_(
                col(LabelMapEntry.project_id),
                col(LabelMapEntry.model_name),
                col(LabelMapEntry.label),
            ).in_(list(keys))
        )
    )
    return {(p, m, label): taxon for p, m, label, taxon in rows.all()}


async def _taxa_by_name(
    session: AsyncSession,
    analyses: list[_Analysis],
    mapped: dict[tuple[uuid.UUID, str, str], uuid.UUID],
) -> dict[str, uuid.UUID]:
    """Scientific name → taxon, for the names of labels the label maps leave open."""
    names = {
        c.scientific_name
        for a, c in _top_labels(analyses)
        if c.scientific_name and (a.project_id, a.label_model, c.label) not in mapped
    }
    if not names:
        return {}
    rows = (
        await session.exec(
            select(Taxon.scientific_name, Taxon.id, Taxon.taxonomic_status, Taxon.external_id)
            .where(col(Taxon.scientific_name).in_(names))
            .order_by(col(Taxon.external_id))
        )
    ).all()
    found: dict[str, uuid.UUID] = {}
    # Homonyms and synonyms share a name: the accepted taxon wins, then the first by id.
    for name, taxon_id, _status, _ in sorted(rows, key=lambda r: (r[2] != "accepted", r[3])):
        found.setdefault(name, taxon_id)
    return found


def _analyzed_times(analyses: list[_Analysis]) -> dict[uuid.UUID, datetime]:
    """Media id → its latest analysis time, for the media a run analysed without failing."""
    latest: dict[uuid.UUID, datetime] = {}
    for a in analyses:
        if a.event.failure:
            continue
        current = latest.get(a.media_id) or a.previously_analyzed_at
        latest[a.media_id] = a.analyzed_at if current is None else max(current, a.analyzed_at)
    return latest


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _constants() -> dict[str, Any]:
    """The observation columns a machine detection never sets: the value a new row gets."""
    sample = Observation(project_id=uuid.uuid4(), observation_type="", category="")
    given = {"id", "media_id", "model_run_id", "classified_at", "classification_timestamp"}
    given.update(_RUN_SHARED, _DETECTION)
    constants = {
        c.name: getattr(sample, c.name) for c in _table(Observation).columns if c.name not in given
    }
    return {**constants, "classification_method": "machine"}


_OBSERVATION_CONSTANTS = _constants()


def analyzed_consumer(ctx: ServiceContext) -> Callable[[list[Envelope]], Awaitable[None]]:
    """The ``media.analyzed`` batch handler: the batch's new events in one transaction, recorded
    as handled in the same transaction, acked by the bus after the commit."""
    consumer = f"{ctx.name}:media.analyzed"

    async def handle(envelopes: list[Envelope]) -> None:
        if ctx.db is None or ctx.processed_table is None:
            raise RuntimeError(f"service {ctx.name} has no database")
        async with ctx.db.transaction() as session:
            fresh = await first_deliveries(session, ctx.processed_table, envelopes, consumer)
            stored = await store_analysis(session, fresh)
            # Rows only (the webhook outbox); a worker sends them after the commit.
            await queue_alerts(session, stored, base_url=ctx.settings.public_url)

    return handle
