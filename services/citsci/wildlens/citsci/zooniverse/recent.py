"""Classifications as Panoptes' API lists them (``/classifications/project``), read into the
same ``Classification`` the export reader makes: a pull of only what is new, without waiting
for an export.

The API's resources are JSON, not the export's CSV: ``{"id", "annotations", "created_at",
"metadata": {"workflow_version", "session", ...}, "gold_standard", "expert_classifier",
"links": {"workflow", "user", "subjects"}}``. Any IP address a resource might carry is never
read. A volunteer who was not logged in is named by the classification alone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from wildlens.citsci.aggregation import (
    Classification,
    ExportError,
    Skipped,
    parse_annotations,
    skip_or_raise,
)

__all__ = ["latest_id", "read_recent"]

_MAX_SUBJECTS = 100
_MAX_ID = 1 << 63


def _integer(value: Any, what: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ExportError(f"{where}: {what} must be an integer id")
    try:
        number = int(value)
    except ValueError:
        raise ExportError(f"{where}: {what} {str(value)[:40]!r} is not an integer") from None
    if not 0 <= number < _MAX_ID:
        raise ExportError(f"{where}: {what} out of range")
    return number


def _moment(value: Any, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ExportError(f"{where}: created_at {str(value)[:40]!r} is not a timestamp") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _one(raw: Any, workflow_id: int, n: int) -> Classification | None:
    if not isinstance(raw, Mapping):
        raise ExportError(f"classification {n} of the listing is not an object")
    where = f"classification {str(raw.get('id'))[:20]}"
    classification_id = _integer(raw.get("id"), "id", where)
    links = raw.get("links")
    if not isinstance(links, Mapping):
        raise ExportError(f"{where}: links must be an object")
    if _integer(links.get("workflow"), "links.workflow", where) != workflow_id:
        return None
    subjects = links.get("subjects")
    if not isinstance(subjects, list) or not 0 < len(subjects) <= _MAX_SUBJECTS:
        raise ExportError(f"{where}: links.subjects must list 1 to {_MAX_SUBJECTS} subjects")
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ExportError(f"{where}: metadata must be an object")
    user = links.get("user")
    user_id = None if user is None else _integer(user, "links.user", where)
    try:
        annotations = parse_annotations(raw.get("annotations"))
    except ExportError as error:
        raise ExportError(f"{where}: {error.detail}") from None
    return Classification(
        classification_id=classification_id,
        volunteer=f"user:{user_id}"
        if user_id is not None
        else f"not-logged-in:{classification_id}",
        user_name="",
        user_id=user_id,
        workflow_id=workflow_id,
        workflow_version=str(metadata.get("workflow_version") or raw.get("workflow_version") or ""),
        created_at=_moment(raw.get("created_at"), where),
        gold_standard=bool(raw.get("gold_standard")),
        expert=bool(raw.get("expert_classifier")),
        subject_ids=tuple(_integer(s, "links.subjects", where) for s in subjects),
        annotations=annotations,
    )


def read_recent(
    resources: Iterable[Any], workflow_id: int, skipped: Skipped | None = None
) -> Iterator[Classification]:
    """The workflow's classifications among the API's resources, in the order given; with
    ``skipped``, one that is not well-formed is left out and counted there.

    Raises:
        ExportError: at the first resource that is not a well-formed classification, naming
            it (without ``skipped``).
    """
    for n, raw in enumerate(resources):
        try:
            found = _one(raw, workflow_id, n)
        except ExportError as error:
            skip_or_raise(skipped, error)
            continue
        if found is not None:
            yield found


def latest_id(ids: Collection[int]) -> str | None:
    """Where the next listing starts: after the newest classification stored."""
    return str(max(ids)) if ids else None
