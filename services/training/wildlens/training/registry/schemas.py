"""Registered models as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ModelDetail", "ModelKind", "ModelPublic", "ModelSource", "ModelStage", "StageChange"]

# candidate: trained here, not serving; registered: brought by a user (POST /v1/models), not
# serving; production: serving its kind in its scope; archived: served once, replaced.
ModelStage = Literal["candidate", "registered", "production", "archived"]
ModelKind = Literal["detector", "classifier"]
ModelSource = Literal["trained", "external"]


class ModelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    version: str
    kind: str
    sha256: str
    bundle_key: str
    stage: str
    source: str
    project_id: uuid.UUID | None
    registered_by: str
    size_bytes: int | None
    metrics: dict[str, Any]
    created_at: datetime


class StageChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_stage: str | None
    to_stage: str
    # Who made the change (the token's subject).
    changed_by: str
    changed_at: datetime
    # Why, where it followed from another change ("replaced by <name> <version>").
    reason: str


class ModelDetail(ModelPublic):
    # Every stage the model has been in, oldest first.
    history: list[StageChange]
