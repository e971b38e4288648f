"""Datasets built from the labels people confirmed: what was asked (the label spec, the seed,
the shares), how the build stands, and the counts per class and split. Every sample is in the
manifest, a JSON object in storage beside the dataset's crops."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from wildlens.common.db import UtcDateTime, utcnow
from wildlens.training.models.base import TrainingTable

__all__ = ["Dataset"]


class Dataset(TrainingTable, table=True):
    __tablename__ = "datasets"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(index=True)
    created_by: str = Field(max_length=200)
    # The label spec as given (validated), the seed, the split's shares and its grouping.
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    seed: int = 0
    shares: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))
    group_by: str = Field(default="location", max_length=20)
    # building, ready, failed
    state: str = Field(default="building", max_length=20)
    # The class names in the order a classifier's outputs follow.
    classes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # {split: {class: samples}}
    counts: dict[str, dict[str, int]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    # Observations left out, by reason (not confirmed, not in the spec, above max_count...).
    dropped: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    sample_count: int = 0
    location_count: int = 0
    # The manifest's object key (crops/<id>/manifest.json) once stored.
    manifest_key: str = Field(default="", max_length=300)
    # Why it failed, as the API's error body.
    problem: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
