from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ObservationPublic(BaseModel):
    id: uuid.UUID
    observation_type: str
    category: str
    confidence: float | None
    # Relative [x, y, width, height], top-left origin.
    bbox: list[float] | None
    scientific_name: str
    classification_method: str
    classified_by: str
    model_version: str | None
    classified_at: datetime


class AnalysisPublic(BaseModel):
    model_name: str
    model_version: str
    analyzed_at: datetime
    failure: str
    detection_threshold: float


class MediaPublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    deployment_id: uuid.UUID | None
    device_id: uuid.UUID | None
    sha256: str
    content_type: str
    kind: str
    width: int | None
    height: int | None
    filename: str
    captured_at: datetime | None
    captured_at_source: str
    resolution_issue: str
    latitude: float | None
    longitude: float | None
    raw_metadata: dict[str, Any]
    parent_media_id: uuid.UUID | None
    offset_ms: int | None
    status: str
    recorded_at: datetime
    analyzed_at: datetime | None
    analyses: list[AnalysisPublic]
    observations: list[ObservationPublic]
