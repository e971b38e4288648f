from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary
from wildlens.common.text import NameRule

# Files one import job may be sent (a package's zip, its CSVs and media one by one).
MAX_IMPORT_FILES = 1000

ExportFormatName = Literal["camtrap-dp", "coco", "megadetector", "dwca", "csv", "ecotaxa"]


class ExportCreate(BaseModel):
    format: ExportFormatName


class ExportPublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    format: ExportFormatName
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    error: str
    created_at: datetime
    finished_at: datetime | None
    # A short-lived link to the zip, once the export is done.
    download_url: str | None = None


ImportFormatName = Literal["camtrap-dp", "coco", "megadetector", "kso", "ecotaxa"]
ImportStatus = Literal["awaiting_files", "queued", "running", "succeeded", "failed", "expired"]


class ImportFileDeclared(BaseModel):
    """One file the import job will be sent, as the caller has it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, NameRule(500, min_length=1)] = Field(
        description="The file's name: a Camtrap DP package's or EcoTaxa bundle's zip, or one "
        "of its files by its path in it; a KSO table named after sites, movies or species."
    )
    size: int = Field(ge=0, description="Bytes.")


class ImportOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    utc_offset: Annotated[str, NameRule(6)] = Field(
        default="+00:00",
        description="COCO, KSO and EcoTaxa: the clocks' offset for times written without one.",
    )
    coordinates: Literal["decimal", "dm"] = Field(
        default="decimal",
        description="EcoTaxa: how bare numbers in object_lat/object_lon read: decimal degrees, "
        "or degrees and decimal minutes (DD.MMmm). A value with a degree sign is always "
        "degrees and minutes.",
    )
    accept_unknown: bool = Field(
        default=False,
        description="EcoTaxa: import categories that match no taxon (and are none of "
        "EcoTaxa's non-taxonomic ones) unlinked, listing them in the summary's `unmatched`, "
        "instead of refusing the bundle.",
    )


class ImportJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: ImportFormatName
    files: list[ImportFileDeclared] = Field(min_length=1, max_length=MAX_IMPORT_FILES)
    options: ImportOptions = ImportOptions()


class ImportFilePublic(BaseModel):
    n: int
    name: str
    size: int
    upload_url: str | None = Field(
        default=None,
        description="PUT the file's bytes here, while the job awaits its files (until the "
        "URL expires; asking for the job again gives fresh ones).",
    )


class ImportJobPublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    format: ImportFormatName
    status: ImportStatus
    files: list[ImportFilePublic]
    options: ImportOptions
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    urls_expire_at: datetime | None = None
    summary: ImportSummary | None = Field(
        default=None, description="What the import created and updated, once it succeeded."
    )
    error: str = Field(default="", description="Why the job failed or expired.")
    problems: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Every problem of the files, as an import route's 422 lists them in "
        "`fields`; nothing was imported.",
    )
