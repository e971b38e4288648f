"""The model registry's table: one row per model bundle and version the platform knows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from wildlens.common.db import UtcDateTime, utcnow
from wildlens.training.models.base import TrainingTable


class RegisteredModel(TrainingTable, table=True):
    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    version: str = Field(max_length=100)
    kind: str = Field(max_length=20)  # detector or classifier
    # models/<name>/<version>/ in object storage.
    bundle_key: str = Field(max_length=300)
    sha256: str = Field(max_length=64)
    stage: str = Field(default="candidate", max_length=20)  # candidate, production, archived
    # Global, or one project's model.
    project_id: uuid.UUID | None = None
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
