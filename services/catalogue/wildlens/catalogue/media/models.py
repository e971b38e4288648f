from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
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
    # The request named the deployment: corrections of it re-time the media but never move it.
    deployment_pinned: bool = False
    # The event (sequence) the media belongs to; None without a deployment or a capture time.
    event_id: uuid.UUID | None = Field(
        default=None, foreign_key="events.id", index=True, ondelete="SET NULL"
    )
    latitude: float | None = None
    longitude: float | None = None
    raw_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    parent_media_id: uuid.UUID | None = None
    offset_ms: int | None = None
    uploaded_by: str = Field(default="", max_length=200)
    status: str = Field(default="recorded", max_length=20)
    # Camtrap DP media fields. Imported media whose files live elsewhere have no object key
    # (object_key and sha256 empty) and keep the package's URL or relative path in file_path.
    external_id: str | None = Field(default=None, max_length=200, index=True)
    file_path: str = Field(default="", max_length=1000)
    file_public: bool = True
    capture_method: str = Field(default="", max_length=30)
    favorite: bool | None = None
    comments: str = ""
    # The package's exifData: a JSON object, or its text as given where it is not valid JSON.
    exif_data: dict[str, Any] | str | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
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


# Most of a project's observations are the machine's: never imported (no external id) and
# never verified (still predicted). Partial indexes leave them out, so storing one writes no
# entry in either, while imports and the review queue still find the few that count.
_IMPORTED = text("external_id IS NOT NULL")
_VERIFIED = text("verification_state <> 'predicted'")


class Observation(CatalogueTable, table=True):
    __tablename__ = "observations"
    __table_args__ = (
        Index(
            "ix_observations_external_id",
            "external_id",
            postgresql_where=_IMPORTED,
            sqlite_where=_IMPORTED,
        ),
        Index(
            "ix_observations_verified",
            "project_id",
            "verification_state",
            postgresql_where=_VERIFIED,
            sqlite_where=_VERIFIED,
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    # None for event-level observations (Camtrap DP observationLevel "event").
    media_id: uuid.UUID | None = Field(
        default=None, foreign_key="media.id", index=True, ondelete="CASCADE"
    )
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
    # The taxon the scientific name resolved to, where it was resolved; taxon queries fall
    # back to the name for rows without one.
    taxon_id: uuid.UUID | None = Field(default=None, foreign_key="taxa.id", index=True)
    # Camtrap DP observation fields. classification_timestamp is when the classifier said
    # so, as imported data states it (classified_at is when the catalogue recorded it).
    external_id: str | None = Field(default=None, max_length=200)
    deployment_id: uuid.UUID | None = Field(default=None, foreign_key="deployments.id", index=True)
    observation_level: str = Field(default="media", max_length=10)
    event_external_id: str | None = Field(default=None, max_length=200)
    event_start: datetime | None = Field(default=None, sa_type=UtcDateTime)
    event_end: datetime | None = Field(default=None, sa_type=UtcDateTime)
    camera_setup_type: str = Field(default="", max_length=30)
    count: int | None = None
    life_stage: str = Field(default="", max_length=20)
    sex: str = Field(default="", max_length=20)
    behavior: str = ""
    individual_id: str = Field(default="", max_length=200)
    individual_position_radius: float | None = None
    individual_position_angle: float | None = None
    individual_speed: float | None = None
    classification_timestamp: datetime | None = Field(default=None, sa_type=UtcDateTime)
    tags: str = ""
    comments: str = ""
    # The classifier's probability for its top label (``confidence`` is the detector's for the
    # box); the review queue puts low values first.
    classification_confidence: float | None = None
    # EcoTaxa's verification states: predicted (as the machine or import left it), validated,
    # dubious, discarded. Every change is in observation_history.
    verification_state: str = Field(default="predicted", max_length=10)
    verified_by: str = Field(default="", max_length=300)
    verified_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The label smoothed across the media's event (the majority of its labels), next to the
    # machine's own label, which is never overwritten; empty where there is none.
    smoothed_scientific_name: str = Field(default="", max_length=200)
    smoothed_taxon_id: uuid.UUID | None = None

    @property
    def bbox(self) -> list[float] | None:
        """Relative ``[x, y, width, height]``, top-left origin; None without a box."""
        box = [self.bbox_x, self.bbox_y, self.bbox_width, self.bbox_height]
        return [v for v in box if v is not None] if None not in box else None
