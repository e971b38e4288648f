"""Training jobs: one row per job, which is also the queue it waits in (taken and held by a
lease, so that exactly one training worker runs it and another takes it over when that one
dies), and where the worker writes how far it got."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from wildlens.common.db import UtcDateTime, utcnow
from wildlens.training.models.base import TrainingTable

__all__ = ["TrainingJob"]


class TrainingJob(TrainingTable, table=True):
    __tablename__ = "training_jobs"
    __table_args__ = (
        # A project's jobs, newest first, is how they are listed.
        Index("ix_training_jobs_project_id_created_at", "project_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID
    # The token subject that asked for it.
    created_by: str = Field(max_length=200)
    # What to train on and how, as the request gave them (checked before the row exists).
    label_spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # classifier or detector
    kind: str = Field(default="classifier", max_length=20)
    architecture: str = Field(max_length=40)
    hyperparameters: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    base_weights: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    seed: int
    # queued, running, succeeded, failed, cancelled
    status: str = Field(default="queued", max_length=20, index=True)
    # Asked to stop while running: its worker interrupts it and ends it cancelled.
    cancel_requested: bool = False
    # Progress as the worker last wrote it.
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    eta_s: float | None = None
    # The last lines of its log, oldest first (bounded: TrainingSettings.log_tail_lines).
    log_tail: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    model_id: uuid.UUID | None = None
    # Why it failed, as the API's error body ({"error", "detail", "fields"}).
    problem: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    attempts: int = 0
    lease_owner: str = Field(default="", max_length=200)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
