"""Registered models as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ModelKind", "ModelPublic", "ModelStage"]

ModelStage = Literal["candidate", "production", "archived"]
ModelKind = Literal["detector", "classifier"]


class ModelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    version: str
    kind: str
    sha256: str
    bundle_key: str
    stage: str
    project_id: uuid.UUID | None
    metrics: dict[str, Any]
    created_at: datetime
