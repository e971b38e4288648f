from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from wildlens.catalogue.objects.schemas import ObjectSummary
from wildlens.catalogue.observations.schemas import ObservationBase


class ObservationPublic(ObservationBase):
    category: str
    # Relative [x, y, width, height], top-left origin.
    bbox: list[float] | None
    classification_confidence: float | None
    model_version: str | None
    classified_at: datetime
    # predicted, validated, dubious or discarded.
    verification_state: str
    verified_by: str
    verified_at: datetime | None
    # Part of the media's current label: a person's label where there is one, else the newest
    # model run's; older runs and discarded observations stay listed with False.
    current: bool


class LabelPublic(BaseModel):
    """One distinct label among the media's current observations."""

    observation_type: str
    scientific_name: str
    taxon_id: uuid.UUID | None
    # human where a person (or the volunteers' consensus) gave it, else machine.
    classification_method: str
    classified_by: str
    observations: int


class AnalysisPublic(BaseModel):
    # The detector.
    model_name: str
    model_version: str
    # The species classifier that named its animals ("" where none ran).
    classifier_name: str = ""
    classifier_version: str = ""
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
    # What the media shows now; a human label always outranks a machine one.
    labels: list[LabelPublic]
    observations: list[ObservationPublic]
    # An object's features (named numbers) and what makes it one; None for other media.
    features: dict[str, float] | None = None
    object: ObjectSummary | None = None
