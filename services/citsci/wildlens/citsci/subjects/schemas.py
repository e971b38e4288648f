"""Subject sets as the API reads and writes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SubjectSetCreate", "SubjectSetPublic"]


class SubjectSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    destination: Literal["builtin", "zooniverse"] = "builtin"


class SubjectSetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    destination: str
    created_by: str
    created_at: datetime
