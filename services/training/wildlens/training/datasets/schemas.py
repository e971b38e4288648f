"""Datasets as the API shows them: one base every view shares, the manifest, and COCO Camera
Traps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wildlens.training.datasets.label_spec import LabelSpec
from wildlens.training.datasets.split import GroupBy, Shares

__all__ = ["DatasetCreate", "DatasetPublic", "ManifestPublic", "ManifestSample"]


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID = Field(description="The project whose confirmed labels are used.")
    label_spec: LabelSpec = Field(
        default_factory=LabelSpec,
        description="Which observations become which classes (MegaDetector's label_spec shape).",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="The same seed, the same split.")
    shares: Shares = Field(default_factory=Shares, description="Train, validation and test.")
    group_by: GroupBy = Field(
        default="location",
        description="What never spans two splits: a location (default) or an event (sequence).",
    )


class DatasetPublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    # building, ready or failed.
    state: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    label_spec: dict[str, Any]
    seed: int
    shares: dict[str, float]
    group_by: str
    # The class names in the order of a classifier's outputs.
    classes: list[str]
    # Samples per split and class: {"train": {"fox": 12, ...}, "validation": ..., "test": ...}.
    counts: dict[str, dict[str, int]]
    # Samples per split.
    split_sizes: dict[str, int]
    sample_count: int
    location_count: int
    # Observations left out, by reason: not_confirmed, not_in_spec, no_box, above_max_count,
    # no_file (the platform does not hold the image), undecodable.
    dropped: dict[str, int]


class ManifestSample(BaseModel):
    observation_id: uuid.UUID
    media_id: uuid.UUID
    # The sample's class in the dataset (after merges, renames and roll-ups).
    class_: str = Field(alias="class", serialization_alias="class")
    scientific_name: str
    taxon_id: uuid.UUID | None
    location_id: uuid.UUID | None
    event_id: uuid.UUID | None
    captured_at: datetime | None
    # The box in the original image, relative [x, y, width, height], top-left origin.
    bbox: list[float]
    split: str
    # Where the square crop is stored (crops/<dataset>/<observation>.jpg) and its side.
    crop_key: str
    crop_size: int
    # A single object's features (named numbers) from the catalogue; None for other media.
    features: dict[str, float] | None = None

    model_config = ConfigDict(populate_by_name=True)


class ManifestPublic(BaseModel):
    dataset_id: uuid.UUID
    classes: list[str]
    samples: list[ManifestSample]
