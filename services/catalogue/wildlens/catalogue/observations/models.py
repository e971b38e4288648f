from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from wildlens.catalogue.tables import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class ObservationChange(CatalogueTable, table=True):
    """One change to one observation: who made it, when, and its fields before and after.

    Versions count from 1 per observation; version 0 is the observation as first recorded (the
    ``before`` of version 1), so any earlier state can be restored.
    """

    __tablename__ = "observation_history"
    __table_args__ = (UniqueConstraint("observation_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    observation_id: uuid.UUID = Field(foreign_key="observations.id", index=True, ondelete="CASCADE")
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    version: int
    # validate, dubious, discard, correct, revert
    action: str = Field(max_length=20)
    changed_by: str = Field(max_length=300)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
