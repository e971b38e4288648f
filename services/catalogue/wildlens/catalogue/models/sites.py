from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.catalogue.models.clock import CameraClock
from wildlens.common.db import UtcDateTime, utcnow


class Location(CatalogueTable, table=True):
    __tablename__ = "locations"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    latitude: float
    longitude: float
    # ISO 3166 country (or subdivision) code, used for geofencing species lists.
    region: str = Field(default="", max_length=10)
    # The id the location had in imported data (Camtrap DP locationID).
    external_id: str | None = Field(default=None, max_length=200, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Device(CatalogueTable, table=True):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("project_id", "serial"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    serial: str = Field(max_length=100)
    model: str = Field(default="", max_length=200)
    make: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Deployment(CatalogueTable, table=True):
    __tablename__ = "deployments"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    location_id: uuid.UUID = Field(foreign_key="locations.id", index=True)
    device_id: uuid.UUID = Field(foreign_key="devices.id", index=True)
    start: datetime = Field(sa_type=UtcDateTime)
    end: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The camera clock's fixed offset from UTC ("+01:00"); trail cameras ignore daylight saving.
    utc_offset: str = Field(default="+00:00", max_length=6)
    # The camera clock's drift: it read this many seconds ahead of true time (negative: behind)
    # when checked at clock_checked_at (the end when not given); corrected linearly from the
    # start (models/clock.py has the model).
    clock_drift_seconds: float = 0.0
    clock_checked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Camtrap DP deployment fields; the id the deployment had in imported data (deploymentID).
    external_id: str | None = Field(default=None, max_length=200, index=True)
    coordinate_uncertainty: int | None = None  # metres
    setup_by: str = Field(default="", max_length=200)
    camera_delay: int | None = None  # seconds
    camera_height: float | None = None  # metres
    camera_depth: float | None = None  # metres
    camera_tilt: int | None = None  # degrees
    camera_heading: int | None = None  # degrees
    detection_distance: float | None = None  # metres
    timestamp_issues: bool = False
    bait_use: bool | None = None
    feature_type: str = Field(default="", max_length=50)
    habitat: str = ""
    deployment_groups: str = ""
    deployment_tags: str = ""
    deployment_comments: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

    def clock(self) -> CameraClock:
        """The camera clock media of this deployment are read with."""
        return CameraClock(
            utc_offset=self.utc_offset,
            set_at=self.start,
            checked_at=self.clock_checked_at or self.end,
            drift_seconds=self.clock_drift_seconds,
        )

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment <= self.end)


class DeviceToken(CatalogueTable, table=True):
    __tablename__ = "device_tokens"

    id: uuid.UUID = Field(primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    device_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    # Indexed: every ingest replica reads the unexpired revoked tokens when it starts.
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    revoked_by: str | None = Field(default=None, max_length=200)
