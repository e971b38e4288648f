"""Indexes the list queries need on tables other packages own.

Media lists are read a project at a time in capture order and paged by (captured_at, id);
one composite index serves the filter, the order and the keyset condition together.
"""

from __future__ import annotations

from sqlalchemy import Index

from wildlens.catalogue.media.models import Media

__all__ = ["MEDIA_BY_CAPTURE"]

MEDIA_BY_CAPTURE = Index(
    "ix_media_project_captured_at_id",
    Media.__table__.c.project_id,  # type: ignore[attr-defined]
    Media.__table__.c.captured_at,  # type: ignore[attr-defined]
    Media.__table__.c.id,  # type: ignore[attr-defined]
)
