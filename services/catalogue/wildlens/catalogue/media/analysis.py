"""``media.analyzed`` → machine observations, once per medium and model version.

Analyses arrive as fast as inference runs, so a whole batch is stored with a fixed number of
statements whatever its size: one to record the events as handled, one for the media with the
runs already stored, one for the label map entries and one for the taxa the batch names (a
classifier's label resolves through the project's label map, else its scientific name through
the taxon tree), then, on PostgreSQL, one statement that inserts the runs and observations and
marks the media analysed.

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
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.alerts.matching import queue_alerts
from wildlens.catalogue.events.smoothing import smooth_events_of
from wildlens.catalogue.media.models import Media, ModelRun, Observation
from wildlens.catalogue.taxa.models import LabelMapEntry, Taxon
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
    media: Media
    analyzed_at: datetime
    # Each detection's most probable classification (None without one), found once.
    tops: list[Classification | None]

    @property
    def label_model(self) -> str:
        # Label maps are kept per classifier; a detector that labels species itself (no
        # separate classifier) is its own classifier.
        return self.event.classifier.name or self.event.detector.name


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


async def _write(
    session: AsyncSession,
    runs: list[dict[str, Any]],
    observations: list[dict[str, Any]],
    analyzed: dict[uuid.UUID, datetime],
) -> None:
    """The batch's runs and observations in, its media marked analysed.

    On PostgreSQL that is one statement (two inserts as writable CTEs and the update, every
    value in one array per column), so a batch costs one round trip whatever its size.
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        runs_table, observations_table = _table(ModelRun), _table(Observation)
        args = [
            *_columns(runs_table, runs),
            *_columns(observations_table, observations),
            list(analyzed),
            list(analyzed.values()),
        ]
        raw = await connection.get_raw_connection()
        # The driver's own connection, inside the transaction the session already began.
        driver: Any = raw.driver_connection
        await driver.execute(_pg_write_statement(), *args)
        return
    if runs:
        await connection.execute(insert(_table(ModelRun)), runs)
    if observations:
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
        values = [row[column.name] for row in rows]
        if isinstance(column.type, JSON):
            values = [json.dumps(v) for v in values]
        out.append(values)
    return out


@cache
def _pg_write_statement() -> str:
    dialect = asyncpg.dialect()  # type: ignore[no-untyped-call]
    position = 0

    def insert_from_arrays(table: Table) -> str:
        nonlocal position
        names, arrays = [], []
        for column in table.columns:
            position += 1
            names.append(f'"{column.name}"')
            arrays.append(f"${position}::{column.type.compile(dialect=dialect)}[]")
        return (
            f'INSERT INTO "{table.name}" ({", ".join(names)}) '
            f"SELECT * FROM unnest({', '.join(arrays)})"
        )

    runs = insert_from_arrays(_table(ModelRun))
    observations = insert_from_arrays(_table(Observation))
    ids, times = position + 1, position + 2
    return (
        f"WITH runs AS ({runs}), observations AS ({observations}) "
        "UPDATE media SET status = 'analyzed', analyzed_at = v.at "
        f"FROM unnest(${ids}::uuid[], ${times}::timestamptz[]) AS v(id, at) "
        "WHERE media.id = v.id"
    )


async def store_analysis(session: AsyncSession, envelopes: Sequence[Envelope]) -> list[Media]:
    """Store a batch of analyses; the media whose analyses were new (each once)."""
    if not envelopes:
        return []
    analyses = await _new_analyses(session, envelopes)
    if not analyses:
        return []
    label_taxa = await _label_map(session, analyses)
    name_taxa = await _taxa_by_name(session, analyses, label_taxa)

    runs: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    for a in analyses:
        event = a.event
        run_id = uuid.uuid4()
        runs.append(
            {
                "id": run_id,
                "media_id": a.media.id,
                "model_name": event.detector.name,
                "model_version": event.detector.version,
                "model_sha256": event.detector.sha256,
                "classifier_name": event.classifier.name,
                "classifier_version": event.classifier.version,
                "detection_threshold": event.detection_threshold,
                "failure": event.failure,
                "timings_ms": dict(event.timings_ms),
                "analyzed_at": a.analyzed_at,
                "recorded_at": utcnow(),
            }
        )
        classified_by = f"{event.detector.name}@{event.detector.version}"
        for detection, top in zip(event.detections, a.tops, strict=True):
            taxon_id = None
            if top is not None:
                taxon_id = label_taxa.get(
                    (a.media.project_id, a.label_model, top.label)
                ) or name_taxa.get(top.scientific_name)
            observations.append(
                _observation_row(
                    id=uuid.uuid4(),
                    project_id=a.media.project_id,
                    media_id=a.media.id,
                    model_run_id=run_id,
                    deployment_id=a.media.deployment_id,
                    observation_type=OBSERVATION_TYPES.get(detection.category, "unknown"),
                    category=detection.category,
                    confidence=detection.confidence,
                    bbox_x=detection.bbox.x,
                    bbox_y=detection.bbox.y,
                    bbox_width=detection.bbox.width,
                    bbox_height=detection.bbox.height,
                    scientific_name=top.scientific_name if top else "",
                    classification_confidence=top.confidence if top else None,
                    taxon_id=taxon_id,
                    classification_method="machine",
                    classified_by=classified_by,
                    classified_at=a.analyzed_at,
                    classification_timestamp=a.analyzed_at,
                )
            )
    analyzed = _analyzed_times(analyses)
    await _write(session, runs, observations, analyzed)
    # The loaded copies learn what the statement wrote without becoming dirty (which would
    # write each of them again at the next flush).
    for a in analyses:
        if a.media.id in analyzed:
            set_committed_value(a.media, "status", "analyzed")
            set_committed_value(a.media, "analyzed_at", analyzed[a.media.id])
    stored: dict[uuid.UUID, Media] = {a.media.id: a.media for a in analyses}
    await smooth_events_of(session, stored.values())
    return list(stored.values())


async def _new_analyses(session: AsyncSession, envelopes: Sequence[Envelope]) -> list[_Analysis]:
    """The batch's analyses of recorded media that no earlier run of the same model stored."""
    events = [(unpack(e, MediaAnalyzed), e) for e in envelopes]
    ids = {uuid.UUID(event.media_id) for event, _ in events}
    # The media and the runs already stored for them, in one round trip.
    rows = (
        await session.exec(
            select(Media, ModelRun.model_name, ModelRun.model_version)
            .join(ModelRun, col(ModelRun.media_id) == col(Media.id), isouter=True)
            .where(col(Media.id).in_(ids))
        )
    ).all()
    media = {m.id: m for m, _, _ in rows}
    missing = ids - set(media)
    if missing:
        # The whole batch comes back; by then the recording has caught up.
        raise MediaNotRecordedYet(f"media {sorted(map(str, missing))} not recorded yet")
    stored = {(m.id, name, version) for m, name, version in rows if name is not None}
    analyses: list[_Analysis] = []
    for event, envelope in events:
        key = (uuid.UUID(event.media_id), event.detector.name, event.detector.version)
        if key in stored:
            continue
        stored.add(key)
        analyzed_at = (
            event.analyzed_at.ToDatetime(tzinfo=UTC)
            if event.HasField("analyzed_at")
            else envelope.occurred_at
        )
        tops = [max(d.classifications, key=_probability, default=None) for d in event.detections]
        analyses.append(_Analysis(event, media[key[0]], analyzed_at, tops))
    return analyses


def _probability(c: Classification) -> float:
    return float(c.confidence)


def _top_labels(analyses: list[_Analysis]) -> list[tuple[_Analysis, Classification]]:
    return [(a, top) for a in analyses for top in a.tops if top is not None]


async def _label_map(
    session: AsyncSession, analyses: list[_Analysis]
) -> dict[tuple[uuid.UUID, str, str], uuid.UUID]:
    """(project, model, label) → taxon, for the labels the batch uses."""
    keys = {(a.media.project_id, a.label_model, c.label) for a, c in _top_labels(analyses)}
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
        if c.scientific_name and (a.media.project_id, a.label_model, c.label) not in mapped
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
        current = latest.get(a.media.id) or a.media.analyzed_at
        latest[a.media.id] = a.analyzed_at if current is None else max(current, a.analyzed_at)
    return latest


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _defaults() -> dict[str, Any]:
    """Every observation column with the value a new row gets unless told otherwise."""
    sample = Observation(project_id=uuid.uuid4(), observation_type="", category="")
    return {c.name: getattr(sample, c.name) for c in _table(Observation).columns}


_OBSERVATION_DEFAULTS = _defaults()


def _observation_row(**values: Any) -> dict[str, Any]:
    return {**_OBSERVATION_DEFAULTS, **values}


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
