from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class AuditEntry(CatalogueTable, table=True):
    """Something removed from a project: who, when, what, and the rows as they were."""

    __tablename__ = "audit_log"
    # Managers read a project's log newest first.
    __table_args__ = (Index("ix_audit_log_project_at", "project_id", "at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # No foreign key: the log outlives what it describes.
    project_id: uuid.UUID
    # media.deleted, deployment.deleted
    action: str = Field(max_length=50)
    object_type: str = Field(max_length=30)
    object_id: uuid.UUID
    actor: str = Field(max_length=300)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
