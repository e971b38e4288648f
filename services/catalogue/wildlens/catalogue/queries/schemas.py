from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wildlens.catalogue.objects.schemas import ObjectSummary
from wildlens.catalogue.observations.schemas import ObservationBase
from wildlens.catalogue.privacy import FileChoice, Withheld
from wildlens.common.text import NameRule


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
    # A short-lived URL the file downloads from without a token; fetch the list again for
    # fresh URLs once it expires. None where ``url_withheld`` says why.
    url: str | None
    url_expires_at: datetime | None
    # What ``url`` gives: "original" (the stored bytes, for callers with precise_locations)
    # or "display" (a JPEG copy with no EXIF, GPS or XMP, for everyone else).
    url_file: FileChoice | None
    # Why there is no ``url``: "not_held" (the platform does not hold the file),
    # "display_copy_pending" (not made yet; list again in a few seconds) or
    # "precise_locations_needed" (a video: its original carries its place in its metadata).
    url_withheld: Withheld | None
    # An object's features (named numbers) and what makes it one; None for other media.
    features: dict[str, float] | None = None
    object: ObjectSummary | None = None


class ObservationItem(ObservationBase):
    project_id: uuid.UUID
    media_id: uuid.UUID | None
    # The medium's deployment and location, and when it was captured (None for event-level
    # observations, which have no medium).
    deployment_id: uuid.UUID | None
    location_id: uuid.UUID | None
    captured_at: datetime | None
    category: str
    # Relative [x, y, width, height], top-left origin.
    bbox: list[float] | None
    classified_at: datetime
    # predicted, validated, dubious or discarded.
    verification_state: str
    verified_by: str
    verified_at: datetime | None


class Reclassification(BaseModel):
    """What a selection of objects really is: a taxon of the tree (``taxon_id``), or a name
    (a taxon's, resolved against the tree, or one of the project's non-taxonomic categories
    such as detritus)."""

    model_config = ConfigDict(extra="forbid")

    taxon_id: uuid.UUID | None = None
    scientific_name: Annotated[str, NameRule(200, min_length=1)] | None = None

    @model_validator(mode="after")
    def _named(self) -> Reclassification:
        if self.taxon_id is None and self.scientific_name is None:
            raise ValueError("give taxon_id or scientific_name")
        return self


class SelectionChange(BaseModel):
    action: Literal["validate", "dubious", "reclassify"]
    matched: int = Field(
        description="Observations of the selection that make their media's labels now."
    )
    changed: int = Field(
        description="Those the call changed (each with a row in its history); the others "
        "already said so."
    )
