"""Model uploads as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE
from wildlens.common.http.errors import ErrorBody
from wildlens.training.registry.schemas import ModelKind

__all__ = [
    "BundleFile",
    "ModelUploadCreate",
    "ModelUploadFile",
    "ModelUploadPublic",
    "ModelUploadStatus",
]

# awaiting_files: PUT the files, then complete it; queued / running: its job checks and
# registers the bundle; succeeded: model_id is the registered model; failed: problem says why.
ModelUploadStatus = Literal["awaiting_files", "queued", "running", "succeeded", "failed"]
BundleFileName = Literal["model.onnx", "wildlens-model.json"]
# A name and a version become one folder each in object storage (models/<name>/<version>/).
_KEY_PART = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class BundleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: BundleFileName
    size: int = Field(ge=1, description="Bytes the file has; what is PUT must have as many.")


class ModelUploadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_KEY_PART, description="The manifest's name.")
    version: str = Field(pattern=_KEY_PART, description="The manifest's version.")
    kind: ModelKind | None = Field(default=None, description="The manifest's kind, if given.")
    project_id: uuid.UUID | None = Field(
        default=None, description="This project's own model (its managers manage it); none: global"
    )
    files: list[BundleFile] = Field(
        min_length=2, max_length=2, description=f"{MODEL_FILE} and {MANIFEST_FILE}, with sizes."
    )

    @field_validator("name", "version")
    @classmethod
    def _no_parent(cls, value: str) -> str:
        if ".." in value:
            raise ValueError("may not hold '..': it names a folder in storage")
        return value

    @model_validator(mode="after")
    def _both_files(self) -> ModelUploadCreate:
        if {f.name for f in self.files} != {MODEL_FILE, MANIFEST_FILE}:
            raise ValueError(f"files are {MODEL_FILE} and {MANIFEST_FILE}, once each")
        return self

    def size_of(self, name: str) -> int:
        return next(f.size for f in self.files if f.name == name)


class ModelUploadFile(BaseModel):
    name: BundleFileName
    size: int
    upload_url: str | None = Field(
        default=None,
        description="PUT the file here, whole (only when the upload is opened; until expires_at).",
    )


class ModelUploadPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    version: str
    kind: ModelKind | None
    project_id: uuid.UUID | None
    status: ModelUploadStatus
    model_id: uuid.UUID | None = Field(description="The registered model, once succeeded.")
    problem: ErrorBody | None = Field(description="Why it failed, once failed.")
    created_by: str
    created_at: datetime
    expires_at: datetime
    finished_at: datetime | None
    files: list[ModelUploadFile]
