from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wildlens.catalogue.models.clock import OFFSET_PATTERN, drift_problem
from wildlens.common.http import Timestamp
from wildlens.common.text import NameRule


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, NameRule(200, min_length=1)]
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    region: Annotated[str, NameRule(10)] = ""


class LocationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    latitude: float
    longitude: float
    region: str
    created_at: datetime


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serial: Annotated[str, NameRule(100, min_length=1)]
    model: Annotated[str, NameRule(200)] = ""
    make: Annotated[str, NameRule(200)] = ""


class DevicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    serial: str
    model: str
    make: str
    created_at: datetime


# A camera clock drifting more than a day is a clock that was never set.
MAX_DRIFT_SECONDS = 86_400.0


def _check_span(
    start: datetime, end: datetime | None, checked_at: datetime | None, drift_seconds: float
) -> None:
    if end is not None and end <= start:
        raise ValueError("end must be after start")
    problem = drift_problem(start, checked_at or end, drift_seconds)
    if problem:
        raise ValueError(problem)


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: uuid.UUID
    device_id: uuid.UUID
    start: Timestamp
    end: Timestamp | None = None
    utc_offset: str = Field(default="+00:00", pattern=OFFSET_PATTERN, examples=["+01:00"])
    clock_drift_seconds: float = Field(
        default=0.0,
        ge=-MAX_DRIFT_SECONDS,
        le=MAX_DRIFT_SECONDS,
        description="How many seconds the camera clock was ahead (negative: behind) when "
        "checked at clock_checked_at, or at the end; corrected linearly from the start.",
    )
    clock_checked_at: Timestamp | None = Field(
        default=None, description="When the clock was checked; the end when not given."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentCreate:
        _check_span(self.start, self.end, self.clock_checked_at, self.clock_drift_seconds)
        return self


class DeploymentUpdate(BaseModel):
    """A correction: only the fields given change (``end`` and ``clock_checked_at`` may be
    set to null). Media whose time came from the camera are re-timed and re-placed."""

    model_config = ConfigDict(extra="forbid")

    location_id: uuid.UUID | None = None
    start: Timestamp | None = None
    end: Timestamp | None = None
    utc_offset: str | None = Field(default=None, pattern=OFFSET_PATTERN, examples=["+01:00"])
    clock_drift_seconds: float | None = Field(
        default=None, ge=-MAX_DRIFT_SECONDS, le=MAX_DRIFT_SECONDS
    )
    clock_checked_at: Timestamp | None = None

    @model_validator(mode="after")
    def _something(self) -> DeploymentUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in ("location_id", "start", "utc_offset", "clock_drift_seconds"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def applied_to(self, current: dict[str, Any]) -> dict[str, Any]:
        """The deployment's clock and span fields after this correction; ValueError when they
        do not fit together."""
        merged = {**current, **self.model_dump(include=self.model_fields_set)}
        _check_span(
            merged["start"],
            merged["end"],
            merged["clock_checked_at"],
            merged["clock_drift_seconds"],
        )
        return merged


class DeploymentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    location_id: uuid.UUID
    device_id: uuid.UUID
    start: datetime
    end: datetime | None
    utc_offset: str
    clock_drift_seconds: float
    clock_checked_at: datetime | None
    created_at: datetime


class DeploymentCorrected(DeploymentPublic):
    """The corrected deployment, and what the correction did to media."""

    # Media whose capture time moved.
    media_retimed: int
    # Media that now belong to this deployment, and media that no longer do.
    media_moved_in: int
    media_moved_out: int
    # Media announced again with media.recorded.
    media_announced: int


class DeviceTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Further cameras of the same gateway the token may post for.
    also_devices: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    ttl_days: int = Field(default=365 * 5, ge=1, le=365 * 20)


class DeviceTokenIssued(BaseModel):
    token: str
    token_id: uuid.UUID
    project_id: uuid.UUID
    device_ids: list[uuid.UUID]
    expires_at: datetime


class DeviceTokenPublic(BaseModel):
    """A device token as managers see it: never the token itself, which only its creator got."""

    token_id: uuid.UUID
    project_id: uuid.UUID
    device_ids: list[uuid.UUID]
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
