"""Model bundles on their way in: one row per upload, which is also the queue its check and
registration wait in (taken and held by a lease, so that exactly one training process runs it
and another takes it over when that one dies)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field

from wildlens.common.db import UtcDateTime, utcnow
from wildlens.training.models.base import TrainingTable

__all__ = ["ModelUpload"]


class ModelUpload(TrainingTable, table=True):
    __tablename__ = "model_uploads"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # What the uploader announced; the manifest must say the same.
    name: str = Field(max_length=100)
    version: str = Field(max_length=100)
    kind: str | None = Field(default=None, max_length=20)
    # Global, or one project's model.
    project_id: uuid.UUID | None = None
    # The token subject that opened it: it is the one the model is registered by.
    created_by: str = Field(max_length=200)
    model_bytes: int = Field(sa_type=BigInteger)
    manifest_bytes: int = Field(sa_type=BigInteger)
    # awaiting_files, queued, running, succeeded, failed
    status: str = Field(default="awaiting_files", max_length=20, index=True)
    model_id: uuid.UUID | None = None
    # Why it failed, as the API's error body ({"error", "detail", "fields"}).
    problem: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    attempts: int = 0
    lease_owner: str = Field(default="", max_length=200)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # Its PUT URLs stop working then; one never completed is swept some time after.
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Whether its staging folder was cleared for good, once its URLs were long dead: a holder
    # of them may have PUT a file after the job had cleared it.
    swept: bool = False
