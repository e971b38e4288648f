"""Indexes the statistics need on tables other packages own.

Statistics leave a medium's machine labels out where a person labelled it; the media with a
person's label are found through this partial index (a few rows in a project of millions)
instead of a scan of every observation.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from wildlens.catalogue.media.models import Observation

__all__ = ["HUMAN_LABELLED_MEDIA"]

_HUMAN = text("classification_method = 'human'")

HUMAN_LABELLED_MEDIA = Index(
    "ix_observations_human_media",
    Observation.__table__.c.project_id,  # type: ignore[attr-defined]
    Observation.__table__.c.media_id,  # type: ignore[attr-defined]
    postgresql_where=_HUMAN,
    sqlite_where=_HUMAN,
)
