"""Registered models as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ModelDetail",
    "ModelKind",
    "ModelPublic",
    "ModelScope",
    "ModelSource",
    "ModelStage",
    "Rollback",
    "StageChange",
]

# candidate: trained here, not serving; registered: brought by a user (POST /v1/models), not
# serving; production: serving its kind in its scope; archived: served once, replaced.
ModelStage = Literal["candidate", "registered", "production", "archived"]
ModelKind = Literal["detector", "classifier"]
ModelSource = Literal["trained", "external"]
# global: serves every project without a model of its own; project: serves its project.
ModelScope = Literal["global", "project"]


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
    # Where a model trained here came from; none for bundles users bring.
    job_id: uuid.UUID | None = Field(default=None, description="The training job that made it.")
    dataset_id: uuid.UUID | None = Field(default=None, description="What it was trained on.")
    parent_model_id: uuid.UUID | None = Field(
        default=None, description="The registered model it was fine-tuned from."
    )
    evaluation_key: str | None = Field(
        default=None,
        description="Its evaluation report in object storage (read it with GET "
        "/v1/models/{id}/evaluation); a trained model without one is not promoted.",
    )


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


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: ModelScope = Field(
        description="Where the model serves: global, or its project. Named so that a "
        "rollback never reaches further than the caller meant."
    )
