"""Export jobs: durable, leased, resumable by any catalogue replica."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class ExportJob(CatalogueTable, table=True):
    """One export of a project; its status is durable so that any replica can answer for it.

    A catalogue process runs a job while it holds the job's lease (``lease_owner`` until
    ``lease_expires_at``) and renews the lease as it goes. A process that dies stops renewing,
    and once the lease has run out any catalogue process takes the job and runs it again from
    the start; ``attempts`` bounds how often.
    """

    __tablename__ = "export_jobs"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    format: str = Field(max_length=20)
    # queued, running, done, failed
    status: str = Field(default="queued", max_length=10, index=True)
    progress: float = 0.0
    error: str = ""
    object_key: str = Field(default="", max_length=300)
    created_by: str = Field(max_length=200)
    # Whether the caller who asked may see sensitive taxa's exact coordinates; the job runs
    # later, without the request, and exports what that caller may see.
    precise_locations: bool = False
    # Whether that caller sees media with people where the project hides them (annotators and
    # above); an export for anyone else leaves them out whatever its format. Together with
    # ``precise_locations`` this says who may read the export: only callers who see as much.
    with_people: bool = True
    attempts: int = 0
    lease_owner: str = Field(default="", max_length=200)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
