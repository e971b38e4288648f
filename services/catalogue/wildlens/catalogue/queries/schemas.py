from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class MediaItem(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    deployment_id: uuid.UUID | None
    location_id: uuid.UUID | None
    kind: str
    content_type: str
    filename: str
    width: int | None
    height: int | None
    captured_at: datetime | None
    status: str
    parent_media_id: uuid.UUID | None
    offset_ms: int | None
    # A short-lived URL the image downloads from without a token (None for media whose file
    # the catalogue does not hold); fetch the list again for fresh URLs once it expires.
    url: str | None
    url_expires_at: datetime | None


class ObservationItem(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    media_id: uuid.UUID | None
    deployment_id: uuid.UUID | None
    location_id: uuid.UUID | None
    captured_at: datetime | None
    observation_type: str
    category: str
    confidence: float | None
    # Relative [x, y, width, height], top-left origin.
    bbox: list[float] | None
    scientific_name: str
    taxon_id: uuid.UUID | None
    classification_method: str
    classified_by: str
    classified_at: datetime
    # predicted, validated, dubious or discarded.
    verification_state: str
    verified_by: str
    verified_at: datetime | None
