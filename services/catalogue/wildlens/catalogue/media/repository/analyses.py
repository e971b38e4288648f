"""The ``media.analyzed`` batch's statements: a fixed number per batch whatever its size.

The media with the runs already stored for them, the label map entries and the taxa the batch
names are one statement each; the write (the runs, their observations, the media marked
analysed) is one statement on PostgreSQL. That statement carries one array per value that
differs between detections; what a run's detections share travels once per run, and the
columns a machine observation leaves at their defaults once per batch, because encoding array
elements is much of what a batch costs the consumer's process.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Row, Table, bindparam, insert, tuple_, update
from sqlalchemy import select as select_columns
from sqlalchemy.dialects.postgresql import asyncpg
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import LabelMapEntry, Media, ModelRun, Observation, Taxon

__all__ = [
    "AnalysisRows",
    "label_map_taxa",
    "media_with_runs",
    "taxa_named",
    "write_analyses",
]


async def media_with_runs(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> Sequence[
    Row[uuid.UUID, uuid.UUID, uuid.UUID | None, uuid.UUID | None, datetime | None, str, str]
]:
    """(id, project, deployment, event, analyzed_at, model name, model version) of the media
    ``ids``, once per run already stored for them (the model columns None for media without
    one), in one round trip."""
    connection = await session.connection()
    return (
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


async def label_map_taxa(
    session: AsyncSession, keys: Collection[tuple[uuid.UUID, str, str]]
) -> dict[tuple[uuid.UUID, str, str], uuid.UUID]:
    """(project, model, label) → taxon, for the label map entries among ``keys``."""
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


async def taxa_named(
    session: AsyncSession, names: Collection[str]
) -> Sequence[tuple[str, uuid.UUID, str, str]]:
    """(scientific name, id, status, external id) of the taxa with the ``names``, by external
    id (homonyms and synonyms share a name)."""
    return (
        await session.exec(
            select(Taxon.scientific_name, Taxon.id, Taxon.taxonomic_status, Taxon.external_id)
            .where(col(Taxon.scientific_name).in_(names))
            .order_by(col(Taxon.external_id))
        )
    ).all()


@dataclass(frozen=True)
class AnalysisRows:
    """A batch's rows: each run's whole, and each detection's as (its run's position from 1,
    then the ``_DETECTION`` values); the rest of an observation comes from its run
    (``_from_run``) or is the same for every machine observation (``_OBSERVATION_CONSTANTS``)."""

    runs: list[dict[str, Any]]
    # (project, deployment) of each run's medium.
    run_media: list[tuple[uuid.UUID, uuid.UUID | None]]
    detections: list[tuple[Any, ...]]


# What differs between the detections of one run, in the order ``AnalysisRows.detections`` holds it.
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
    # The classifier's top-k, and how unsure it was (``media.uncertainty``).
    "top_labels",
    "classification_entropy",
    "classification_margin",
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


async def write_analyses(
    session: AsyncSession, rows: AnalysisRows, analyzed: dict[uuid.UUID, datetime]
) -> None:
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
        # The driver takes JSON as text.
        json_at = 1 + _DETECTION.index("top_labels")
        detections[json_at] = [json.dumps(v) for v in detections[json_at]]
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
    """The statement ``write_analyses`` runs on PostgreSQL; its parameters in that function's
    order."""
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
