"""Import jobs: files put in the object store, imported by whichever catalogue process takes
the job; durable and leased like export jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class ImportJob(CatalogueTable, table=True):
    """One import into a project of files too large for a request.

    ``awaiting_files`` until its creator has PUT the files and started it, then ``queued``,
    ``running`` while a catalogue process holds its lease (``lease_owner`` until
    ``lease_expires_at``, renewed as it goes), and ``succeeded`` (with ``summary``) or
    ``failed`` (with ``error`` and the file's ``problems``, nothing imported). A job never
    started is ``expired`` a day after it was made, and its files are removed.
    """

    __tablename__ = "import_jobs"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    format: str = Field(max_length=20)
    status: str = Field(default="awaiting_files", max_length=20, index=True)
    # The files as declared, [{"name", "size"}], in the order of their staging keys.
    files: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # The format's options (a COCO file's utc_offset).
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    problems: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    error: str = ""
    created_by: str = Field(max_length=200)
    attempts: int = 0
    lease_owner: str = Field(default="", max_length=200)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
