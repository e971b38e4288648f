from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

ExportFormatName = Literal["camtrap-dp", "coco", "megadetector", "dwca", "csv"]


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
