"""Originals the ingest service has stored: one row per project and content."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field

from wildlens.common.db import UtcDateTime, utcnow
from wildlens.ingest.models.base import IngestTable


class IngestedMedia(IngestTable, table=True):
    """One original per project and content: the same bytes posted again get the same id."""

    __tablename__ = "ingested_media"
    __table_args__ = (UniqueConstraint("project_id", "sha256"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(index=True)
    # Indexed for the look-ups by content alone (removals, the sweep of unreferenced originals).
    sha256: str = Field(max_length=64, index=True)
    object_key: str = Field(max_length=300)
    content_type: str = Field(max_length=100)
    # Videos pass 2 GiB.
    size_bytes: int = Field(sa_type=BigInteger)
    device_id: uuid.UUID | None = None
    uploaded_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
