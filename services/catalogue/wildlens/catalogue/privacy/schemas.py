from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PrivacyUpdate(BaseModel):
    """What to change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    # Cell size in decimal degrees: 0.01 (about 1 km), 0.1 (about 11 km), 1 (about 111 km).
    coordinate_precision: float | None = Field(default=None, ge=0.001, le=5)
    hide_people: bool | None = None
    # The complete list of sensitive taxa (each with every taxon below it).
    sensitive_taxa: list[uuid.UUID] | None = Field(default=None, max_length=1000)


class SensitiveTaxonPublic(BaseModel):
    id: uuid.UUID
    scientific_name: str
    rank: str


class PrivacyPublic(BaseModel):
    project_id: uuid.UUID
    coordinate_precision: float
    hide_people: bool
    sensitive_taxa: list[SensitiveTaxonPublic]
    # Whether the caller sees sensitive places exactly (the precise_locations permission).
    precise_locations: bool
    updated_by: str
    updated_at: datetime | None
