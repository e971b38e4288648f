"""Subject sets as the API reads and writes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict

from wildlens.common.text import NameRule

__all__ = ["SubjectSetCreate", "SubjectSetPublic"]


class SubjectSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID
    name: Annotated[str, NameRule(200, min_length=1)]
    destination: Literal["builtin", "zooniverse"] = "builtin"


class SubjectSetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    destination: str
    created_by: str
    created_at: datetime
