from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class SmoothedLabel(BaseModel):
    """The majority of an event's animal labels (people's where anyone labelled it)."""

    scientific_name: str
    taxon_id: uuid.UUID | None
    # human or machine: whose labels voted.
    method: str
    votes: int
    total: int
    share: float


class EventPublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    deployment_id: uuid.UUID
    location_id: uuid.UUID | None
    start: datetime
    end: datetime
    media_count: int
    label: SmoothedLabel | None


class EventObservation(BaseModel):
    id: uuid.UUID
    observation_type: str
    category: str
    confidence: float | None
    # Relative [x, y, width, height], top-left origin.
    bbox: list[float] | None
    # The label as the model or person gave it, never changed by smoothing.
    scientific_name: str
    taxon_id: uuid.UUID | None
    classification_method: str
    classified_by: str
    # The event's smoothed label, on machine observations of animals; "" elsewhere.
    smoothed_scientific_name: str
    smoothed_taxon_id: uuid.UUID | None


class EventMedia(BaseModel):
    id: uuid.UUID
    captured_at: datetime | None
    filename: str
    kind: str
    status: str
    observations: list[EventObservation]


class EventDetail(EventPublic):
    media: list[EventMedia]
