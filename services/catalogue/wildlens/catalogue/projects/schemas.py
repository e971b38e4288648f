from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    event_gap_s: int = Field(default=60, ge=1, le=86_400)
    independence_interval_s: int = Field(default=1800, ge=0, le=30 * 86_400)


class ProjectPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    event_gap_s: int
    independence_interval_s: int
    created_by: str
    created_at: datetime
