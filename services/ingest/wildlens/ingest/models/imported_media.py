"""Originals the catalogue stored from imports: one row per imported medium."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from wildlens.common.db import UtcDateTime, utcnow
from wildlens.ingest.models.base import IngestTable


class ImportedMedia(IngestTable, table=True):
    """A medium the catalogue recorded from an import with a file it stored itself
    (``media.imported``). Its original is held like an upload's: a removal or the sweep of
    unreferenced originals keeps it while the row is here."""

    __tablename__ = "imported_media"

    # The catalogue's media id: ``media.deleted`` names it.
    id: uuid.UUID = Field(primary_key=True)
    project_id: uuid.UUID = Field(index=True)
    # Not unique: a package may carry the same file for two media.
    sha256: str = Field(max_length=64, index=True)
    object_key: str = Field(max_length=300)
    content_type: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
