"""Tables of bulk uploads: one row per upload session, one per distinct file in its manifest."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field

from wildlens.common.db import UtcDateTime, utcnow
from wildlens.ingest.models.base import IngestTable


class FileState(StrEnum):
    # Declared, bytes not verified yet (they may or may not have been PUT).
    PENDING = "pending"
    # The project had these bytes before the manifest arrived; nothing to upload.
    ALREADY_HAVE = "already_have"
    # Verified and ingested (media_id set).
    INGESTED = "ingested"
    # What was PUT did not match the manifest, or is not acceptable media (error says why).
    REJECTED = "rejected"


class BulkUpload(IngestTable, table=True):
    """One SD card (or folder) being uploaded to one project."""

    __tablename__ = "bulk_uploads"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(index=True)
    deployment_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    # Who opened it: the token's subject and kind (a person, or a gateway of the project).
    # The session is theirs and the project's managers' alone.
    created_by: str = Field(max_length=200)
    created_by_kind: str = Field(default="user", max_length=16)
    # Next file number to hand out; staging keys are built from it, never from client names.
    file_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class BulkUploadFile(IngestTable, table=True):
    """One distinct file (by content) of an upload's manifest."""

    __tablename__ = "bulk_upload_files"
    # The same bytes listed twice (a copied folder, a re-sent page) are one entry.
    __table_args__ = (UniqueConstraint("upload_id", "sha256"),)

    upload_id: uuid.UUID = Field(foreign_key="bulk_uploads.id", primary_key=True)
    n: int = Field(primary_key=True)
    name: str = Field(max_length=1024)
    # Video originals exceed 2 GiB.
    size_bytes: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    state: str = Field(default=FileState.PENDING, max_length=16)
    error: str | None = Field(default=None, max_length=1000)
    media_id: uuid.UUID | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
