"""What the bulk-upload API takes and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wildlens.common.text import NameRule
from wildlens.ingest.models import FileState


class ManifestEntry(BaseModel):
    """One file as the client sees it on its card."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, NameRule(4096, min_length=1)] = Field(
        description="Path relative to the card, for people to read; never used as a path.",
    )
    size: int = Field(gt=0, description="Bytes.")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="Hex SHA-256 of the bytes.")

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class UploadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID | None = Field(default=None, description="Required with a user token.")
    deployment_id: uuid.UUID | None = Field(
        default=None,
        description="A deployment of the project; with a device token, of one of its cameras.",
    )
    device_id: uuid.UUID | None = Field(
        default=None, description="The camera, for device tokens covering several."
    )
    files: list[ManifestEntry] = Field(
        default_factory=list, description="The first page of the manifest (may be empty)."
    )


class ManifestPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[ManifestEntry] = Field(min_length=1)


class UploadFileOut(BaseModel):
    n: int
    name: str
    size: int
    sha256: str
    state: FileState
    already_have: bool
    media_id: uuid.UUID | None = None
    error: str | None = None
    upload_url: str | None = Field(
        default=None, description="PUT the bytes here (pending files only, until it expires)."
    )


class UploadCounts(BaseModel):
    """Disjoint: expected = already_have + received + ingested + rejected + pending."""

    expected: int
    already_have: int
    received: int = Field(description="PUT but not verified yet; completing verifies them.")
    ingested: int
    rejected: int
    pending: int = Field(description="Not PUT yet.")


class UploadPage(BaseModel):
    """Answer to a manifest page or a request for URLs."""

    id: uuid.UUID
    project_id: uuid.UUID
    files: list[UploadFileOut]
    urls_expire_at: datetime
    next_cursor: str | None = None


class UploadProgress(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    deployment_id: uuid.UUID | None
    device_id: uuid.UUID | None
    created_by: str
    created_at: datetime
    counts: UploadCounts
    files: list[UploadFileOut]
    next_cursor: str | None = None


class UploadCompleted(BaseModel):
    id: uuid.UUID
    counts: UploadCounts
    processed: list[UploadFileOut] = Field(description="The files this call verified.")
