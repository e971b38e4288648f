"""The model registry's tables: one row per model bundle and version the platform knows, and
every change of its stage (who registered, promoted or archived it, and when)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field

from wildlens.common.db import UtcDateTime, utcnow
from wildlens.training.models.base import TrainingTable

__all__ = ["ModelStageChange", "RegisteredModel"]


class RegisteredModel(TrainingTable, table=True):
    __tablename__ = "registered_models"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        # Promotion looks up what serves a kind in a scope.
        Index("ix_registered_models_kind_project_stage", "kind", "project_id", "stage"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    version: str = Field(max_length=100)
    kind: str = Field(max_length=20)  # detector or classifier
    # models/<name>/<version>/ in object storage.
    bundle_key: str = Field(max_length=300)
    sha256: str = Field(max_length=64)
    # candidate (trained here), registered (brought by a user), production, archived.
    stage: str = Field(default="candidate", max_length=20)
    # trained (by this platform) or external (a bundle a user brought: POST /v1/models).
    source: str = Field(default="trained", max_length=20)
    # Global, or one project's model.
    project_id: uuid.UUID | None = None
    # The token subject that registered it; empty for models trained here.
    registered_by: str = Field(default="", max_length=200)
    size_bytes: int | None = Field(default=None, sa_type=BigInteger)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # What a model trained here came from: its job, its dataset and the model it started from.
    job_id: uuid.UUID | None = None
    dataset_id: uuid.UUID | None = None
    parent_model_id: uuid.UUID | None = None
    # Its evaluation report (JSON) in object storage; a trained model without one is not
    # promoted. Its plots lie beside it, under <bundle_key>/plots/.
    evaluation_key: str | None = Field(default=None, max_length=300)


class ModelStageChange(TrainingTable, table=True):
    """One change of a model's stage; registration is the change from no stage."""

    __tablename__ = "model_stage_changes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    model_id: uuid.UUID = Field(foreign_key="registered_models.id", index=True, ondelete="CASCADE")
    from_stage: str | None = Field(default=None, max_length=20)
    to_stage: str = Field(max_length=20)
    # The token subject that made the change.
    changed_by: str = Field(max_length=200)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # Why, where the change was a consequence: "replaced by <name> <version>".
    reason: str = Field(default="", max_length=500)
