"""Zooniverse classification exports, read one row at a time.

A project's "classifications" export is a CSV with these columns, in this order:
``classification_id, user_name, user_id, user_ip, workflow_id, workflow_name,
workflow_version, created_at, gold_standard, expert, metadata, annotations, subject_data,
subject_ids``; ``metadata``, ``annotations`` and ``subject_data`` are JSON.

The reader is a generator over the file, so an export of millions of rows is aggregated in
the memory of the votes, not of the file. ``user_ip`` is a volunteer's IP address: it is
blanked in the row the moment the row is read and no structure made here holds it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wildlens.citsci.aggregation.annotations import (
    Annotation,
    TaskKind,
    parse_annotations,
)
from wildlens.citsci.aggregation.errors import ExportError, Skipped, skip_or_raise

__all__ = [
    "EXPORT_COLUMNS",
    "MAX_FIELD",
    "Classification",
    "check_header",
    "parse_integer",
    "parse_json",
    "parse_timestamp",
    "read_classifications",
]

EXPORT_COLUMNS = (
    "classification_id",
    "user_name",
    "user_id",
    "user_ip",
    "workflow_id",
    "workflow_name",
    "workflow_version",
    "created_at",
    "gold_standard",
    "expert",
    "metadata",
    "annotations",
    "subject_data",
    "subject_ids",
)
# One JSON column of a real export stays far below this; a larger field is an attack or a
# broken file, and the csv module's own limit (128 KiB) would say so less clearly.
MAX_FIELD = 1 << 20
_MAX_SUBJECTS = 100

(
    _ID,
    _USER_NAME,
    _USER_ID,
    _USER_IP,
    _WORKFLOW_ID,
    _WORKFLOW_NAME,
    _WORKFLOW_VERSION,
    _CREATED_AT,
    _GOLD,
    _EXPERT,
    _METADATA,
    _ANNOTATIONS,
    _SUBJECT_DATA,
    _SUBJECT_IDS,
) = range(len(EXPORT_COLUMNS))
_TRUE = frozenset({"true", "t", "1", "yes"})


@dataclass(frozen=True, slots=True)
class Classification:
    """One volunteer's classification of one subject, without their IP address.

    ``volunteer`` is who classified: ``"user:<id>"`` for a logged-in volunteer, else the
    export's ``not-logged-in-<hash>`` name, which Zooniverse derives from the session.
    ``subject_metadata`` is what ``subject_data`` held for the subjects (the metadata sent
    with them, e.g. the media id), keyed by subject id.
    """

    classification_id: int
    volunteer: str
    user_name: str
    user_id: int | None
    workflow_id: int
    workflow_version: str
    created_at: datetime
    gold_standard: bool
    expert: bool
    subject_ids: tuple[int, ...]
    annotations: tuple[Annotation, ...]
    subject_metadata: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def subject_id(self) -> int:
        return self.subject_ids[0]


def parse_integer(text: str, column: str, line: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ExportError(f"{text[:40]!r} is not an integer", line=line, column=column) from None
    if value < 0 or value >= 1 << 63:
        raise ExportError("out of range", line=line, column=column)
    return value


def parse_timestamp(text: str, line: int) -> datetime:
    # Zooniverse writes "2016-02-03 10:11:12 UTC"; ISO 8601 with an offset is accepted too.
    cleaned = text[:-4] + "+00:00" if text.endswith(" UTC") else text
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ExportError(
            f"{text[:40]!r} is not a timestamp", line=line, column="created_at"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_json(text: str, column: str, line: int) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ExportError(
            f"not valid JSON ({error.args[0][:80]})", line=line, column=column
        ) from None


def _subject_ids(text: str, line: int) -> tuple[int, ...]:
    parts = text.split(";")
    if len(parts) > _MAX_SUBJECTS:
        raise ExportError("too many subjects", line=line, column="subject_ids")
    return tuple(parse_integer(p.strip(), "subject_ids", line) for p in parts)


def _subject_metadata(raw: Any, line: int) -> dict[int, Mapping[str, Any]]:
    if not isinstance(raw, dict):
        raise ExportError(
            "must be a JSON object keyed by subject id", line=line, column="subject_data"
        )
    metadata: dict[int, Mapping[str, Any]] = {}
    for key, value in raw.items():
        if not isinstance(value, dict):
            raise ExportError(
                "each subject's data must be an object", line=line, column="subject_data"
            )
        metadata[parse_integer(key, "subject_data", line)] = value
    return metadata


def check_header(header: list[str] | None) -> None:
    if header is None:
        raise ExportError("the export is empty: no header row", line=1)
    header = [h.strip().lstrip("\ufeff") for h in header]
    if tuple(header) != EXPORT_COLUMNS:
        missing = [c for c in EXPORT_COLUMNS if c not in header]
        detail = f"missing {', '.join(missing)}" if missing else "columns out of order"
        raise ExportError(
            f"not a Zooniverse classification export ({detail}); expected "
            + ", ".join(EXPORT_COLUMNS),
            line=1,
        )


def read_classifications(
    lines: Iterable[str],
    *,
    workflow_id: int | None = None,
    task_kinds: Mapping[str, TaskKind] | None = None,
    subject_data: bool = True,
    skipped: Skipped | None = None,
) -> Iterator[Classification]:
    """The export's classifications, one at a time, in file order.

    Args:
        lines: the CSV text, e.g. a file opened with ``newline=""``.
        workflow_id: only this workflow's rows (an export holds every workflow's).
        task_kinds: each task's kind when the workflow is known (see ``parse_annotations``).
        subject_data: keep each subject's metadata; without it the column is not decoded.
        skipped: where given, a row that is not a well-formed classification is left out and
            counted here instead of ending the read.

    Raises:
        ExportError: at the first row that is not a well-formed classification (without
            ``skipped``), naming its line and column; at a header that is not the export's,
            or text that is not CSV or not UTF-8 (always).
    """
    reader = csv.reader(lines, strict=True)
    previous_limit = csv.field_size_limit(MAX_FIELD)
    try:
        try:
            check_header(next(reader, None))
            for row in reader:
                if not row:
                    continue
                try:
                    found = _row(row, reader.line_num, workflow_id, task_kinds, subject_data)
                except ExportError as error:
                    skip_or_raise(skipped, error)
                    continue
                if found is not None:
                    yield found
        except csv.Error as error:
            raise ExportError(f"not readable as CSV ({error})", line=reader.line_num) from None
        except UnicodeDecodeError:
            raise ExportError("not UTF-8 text", line=reader.line_num + 1) from None
    finally:
        csv.field_size_limit(previous_limit)


def _row(
    row: list[str],
    line: int,
    workflow_id: int | None,
    task_kinds: Mapping[str, TaskKind] | None,
    subject_data: bool,
) -> Classification | None:
    """The row's classification; None for another workflow's."""
    if len(row) != len(EXPORT_COLUMNS):
        raise ExportError(
            f"{len(row)} fields where the header has {len(EXPORT_COLUMNS)}", line=line
        )
    # The volunteer's IP address goes no further than the csv module's list.
    row[_USER_IP] = ""
    workflow = parse_integer(row[_WORKFLOW_ID], "workflow_id", line)
    if workflow_id is not None and workflow != workflow_id:
        return None
    return _classification(row, workflow, line, task_kinds, subject_data)


def _classification(
    row: list[str],
    workflow: int,
    line: int,
    task_kinds: Mapping[str, TaskKind] | None,
    subject_data: bool,
) -> Classification:
    user_name = row[_USER_NAME]
    user_id = parse_integer(row[_USER_ID], "user_id", line) if row[_USER_ID] else None
    if user_id is None and not user_name:
        raise ExportError("neither user_id nor user_name", line=line)
    try:
        annotations = parse_annotations(
            parse_json(row[_ANNOTATIONS], "annotations", line), task_kinds
        )
    except ExportError as error:
        if error.line is not None:
            raise
        raise ExportError(error.detail, line=line, column="annotations") from None
    subject_ids = _subject_ids(row[_SUBJECT_IDS], line)
    metadata = (
        _subject_metadata(parse_json(row[_SUBJECT_DATA], "subject_data", line), line)
        if subject_data and row[_SUBJECT_DATA]
        else {}
    )
    return Classification(
        classification_id=parse_integer(row[_ID], "classification_id", line),
        volunteer=f"user:{user_id}" if user_id is not None else user_name,
        user_name=user_name,
        user_id=user_id,
        workflow_id=workflow,
        workflow_version=row[_WORKFLOW_VERSION],
        created_at=parse_timestamp(row[_CREATED_AT], line),
        gold_standard=row[_GOLD].strip().lower() in _TRUE,
        expert=bool(row[_EXPERT].strip())
        and row[_EXPERT].strip().lower() not in {"false", "f", "0"},
        subject_ids=subject_ids,
        annotations=annotations,
        subject_metadata=metadata,
    )
