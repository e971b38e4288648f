from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from wildlens.catalogue.tables import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class ExportJob(CatalogueTable, table=True):
    """One export of a project; its status is durable so that any replica can answer for it."""

    __tablename__ = "export_jobs"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    format: str = Field(max_length=20)
    # queued, running, done, failed
    status: str = Field(default="queued", max_length=10)
    progress: float = 0.0
    error: str = ""
    object_key: str = Field(default="", max_length=300)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
