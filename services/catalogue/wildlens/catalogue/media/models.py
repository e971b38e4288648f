from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field

from wildlens.catalogue.tables import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class Media(CatalogueTable, table=True):
    __tablename__ = "media"

    # The id ingest assigned; the catalogue records it as is.
    id: uuid.UUID = Field(primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    deployment_id: uuid.UUID | None = Field(default=None, foreign_key="deployments.id", index=True)
    device_id: uuid.UUID | None = Field(default=None)
    sha256: str = Field(max_length=64, index=True)
    object_key: str = Field(max_length=300)
    content_type: str = Field(max_length=100)
    kind: str = Field(default="image", max_length=10)
    # Videos pass 2 GiB.
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    width: int | None = None
    height: int | None = None
    filename: str = Field(default="", max_length=300)
    captured_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    # Where captured_at came from: request, exif (with the deployment's clock), exif-offset
    # (the camera's own offset tag), or none.
    captured_at_source: str = Field(default="none", max_length=20)
    # Why the media is not tied to a deployment, when it is not.
    resolution_issue: str = Field(default="", max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    raw_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    parent_media_id: uuid.UUID | None = None
    offset_ms: int | None = None
    uploaded_by: str = Field(default="", max_length=200)
    status: str = Field(default="recorded", max_length=20)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    analyzed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ModelRun(CatalogueTable, table=True):
    """One model version's analysis of one medium; its natural key makes redelivery harmless."""

    __tablename__ = "model_runs"
    __table_args__ = (UniqueConstraint("media_id", "model_name", "model_version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True, ondelete="CASCADE")
    model_name: str = Field(max_length=200)
    model_version: str = Field(max_length=100)
    model_sha256: str = Field(default="", max_length=64)
    classifier_name: str = Field(default="", max_length=200)
    classifier_version: str = Field(default="", max_length=100)
    detection_threshold: float = 0.0
    failure: str = ""
    timings_ms: dict[str, float] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    analyzed_at: datetime = Field(sa_type=UtcDateTime)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Observation(CatalogueTable, table=True):
    __tablename__ = "observations"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True, ondelete="CASCADE")
    model_run_id: uuid.UUID | None = Field(
        default=None, foreign_key="model_runs.id", ondelete="CASCADE"
    )
    # animal, human, vehicle, blank, unknown, unclassified (Camtrap DP's observationType).
    observation_type: str = Field(max_length=20)
    category: str = Field(max_length=50)
    confidence: float | None = None
    bbox_x: float | None = None
    bbox_y: float | None = None
    bbox_width: float | None = None
    bbox_height: float | None = None
    scientific_name: str = Field(default="", max_length=200)
    classification_method: str = Field(default="machine", max_length=10)
    classified_by: str = Field(default="", max_length=300)
    classified_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
