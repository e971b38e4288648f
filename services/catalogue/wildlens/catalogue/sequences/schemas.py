from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel

from wildlens.catalogue.models import Sequence
from wildlens.catalogue.observations.schemas import ObservationBase


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

    @classmethod
    def from_row(cls, event: Sequence, location_id: uuid.UUID | None) -> Self:
        label = None
        if event.label_scientific_name and event.label_total:
            label = SmoothedLabel(
                scientific_name=event.label_scientific_name,
                taxon_id=event.label_taxon_id,
                method=event.label_method,
                votes=event.label_votes,
                total=event.label_total,
                share=event.label_votes / event.label_total,
            )
        return cls(
            id=event.id,
            project_id=event.project_id,
            deployment_id=event.deployment_id,
            location_id=location_id,
            start=event.start,
            end=event.end,
            media_count=event.media_count,
            label=label,
        )


class EventObservation(ObservationBase):
    # ``scientific_name`` and ``taxon_id`` are the label as the model or person gave it, never
    # changed by smoothing.
    category: str
    # Relative [x, y, width, height], top-left origin.
    bbox: list[float] | None
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
