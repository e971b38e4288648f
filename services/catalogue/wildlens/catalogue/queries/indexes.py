"""Indexes the list queries need on tables other packages own.

Media lists are read a project at a time in capture order and paged by (captured_at, id);
one composite index serves the filter, the order and the keyset condition together.
Observation lists end with the event-level observations (no medium), paged by id; a partial
index holds just those, so that part of a list never walks the project's other observations.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from wildlens.catalogue.media.models import Media, Observation

__all__ = ["EVENT_LEVEL_OBSERVATIONS", "MEDIA_BY_CAPTURE"]

MEDIA_BY_CAPTURE = Index(
    "ix_media_project_captured_at_id",
    Media.__table__.c.project_id,  # type: ignore[attr-defined]
    Media.__table__.c.captured_at,  # type: ignore[attr-defined]
    Media.__table__.c.id,  # type: ignore[attr-defined]
)

_EVENT_LEVEL = text("media_id IS NULL")

EVENT_LEVEL_OBSERVATIONS = Index(
    "ix_observations_event_level",
    Observation.__table__.c.project_id,  # type: ignore[attr-defined]
    Observation.__table__.c.id,  # type: ignore[attr-defined]
    postgresql_where=_EVENT_LEVEL,
    sqlite_where=_EVENT_LEVEL,
)
