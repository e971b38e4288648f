"""Recognising, in an imported file, the deployments and media a project already has.

A camera's card is often uploaded by its gateway first and published as a package later; the
same photo must stay one medium, and the same deployment one deployment. A record of the file
is matched, in this order, by:

* the id a previous import of the file gave it (``external id``; counted as updated, not
  reported, as that is the file meeting itself again);
* the platform's own id (``platform id``: a package the platform exported comes back);
* for a deployment, the camera and an overlapping span (``camera and overlapping span``), or,
  for formats that name no camera, the location and an overlapping span; else the deployment
  that already holds media the file brings, by content (``holds the same media``);
* for a medium, its content hash where the file brings the bytes (``content hash``), else its
  deployment, capture time and file name together (``deployment, timestamp and file name``).

Only rows that no import has claimed (no external id) are matched by the rules after the ids,
each at most once, so two packages never fight over a record. Every match is reported with
its rule, so a manager can see what was merged and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel

from wildlens.catalogue.models import Deployment, Media

__all__ = ["ImportMatch", "MatchRule", "Matches", "overlaps", "platform_id"]

Row = TypeVar("Row", Deployment, Media)


class MatchRule(StrEnum):
    PLATFORM_ID = "platform id"
    CAMERA_AND_SPAN = "camera and overlapping span"
    LOCATION_AND_SPAN = "location and overlapping span"
    SAME_MEDIA = "holds the same media"
    CONTENT_HASH = "content hash"
    DEPLOYMENT_TIME_NAME = "deployment, timestamp and file name"


class ImportMatch(BaseModel):
    """A record of the file found to be one the project already had."""

    table: str
    # The record's id in the file.
    source_id: str
    # The project's record it was merged into.
    id: uuid.UUID
    rule: MatchRule


def platform_id(text: str) -> uuid.UUID | None:
    """``text`` as one of the platform's ids, None when it is not one."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def overlaps(deployment: Deployment, start: datetime | None, end: datetime | None) -> bool:
    """Whether the deployment's span and ``start``-``end`` share a moment (an open end runs
    on)."""
    if start is None:
        return False
    end = end or start
    return deployment.start <= end and (deployment.end is None or start <= deployment.end)


class Matches:
    """The matches one import made, and what it has already claimed."""

    def __init__(self) -> None:
        self.found: list[ImportMatch] = []
        self._taken: set[uuid.UUID] = set()

    def free(self, row: Deployment | Media, source_id: str) -> bool:
        """Whether ``row`` may still be matched to the record ``source_id`` of the file."""
        return row.id not in self._taken and row.external_id in (None, source_id)

    def claim(self, row: Deployment | Media) -> None:
        """``row`` is spoken for (found by its external id)."""
        self._taken.add(row.id)

    def add(self, table: str, row: Deployment | Media, source_id: str, rule: MatchRule) -> None:
        self._taken.add(row.id)
        if row.external_id is None:
            row.external_id = source_id
        self.found.append(ImportMatch(table=table, source_id=source_id, id=row.id, rule=rule))

    def first_free(self, rows: Iterable[Row], source_id: str) -> Row | None:
        return next((r for r in rows if self.free(r, source_id)), None)
