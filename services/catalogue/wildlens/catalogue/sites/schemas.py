from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from wildlens.catalogue.sites.clock import OFFSET_PATTERN


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    region: str = Field(default="", max_length=10)


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

    serial: str = Field(min_length=1, max_length=100)
    model: str = Field(default="", max_length=200)
    make: str = Field(default="", max_length=200)


class DevicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    serial: str
    model: str
    make: str
    created_at: datetime


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: uuid.UUID
    device_id: uuid.UUID
    start: AwareDatetime
    end: AwareDatetime | None = None
    utc_offset: str = Field(default="+00:00", pattern=OFFSET_PATTERN, examples=["+01:00"])

    @model_validator(mode="after")
    def _end_after_start(self) -> DeploymentCreate:
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class DeploymentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    location_id: uuid.UUID
    device_id: uuid.UUID
    start: datetime
    end: datetime | None
    utc_offset: str
    created_at: datetime


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
