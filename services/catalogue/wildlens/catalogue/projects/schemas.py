from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from wildlens.common.text import NameRule, TextRule

# What Camtrap DP's licences take: an SPDX identifier ("CC-BY-4.0", their ``name``) or the
# licence's URL (their ``path``); anything else would make every export of the project fail
# its validation.
LICENCE_PATTERN = r"^(|[-a-zA-Z0-9._]+|https?://[!-~]+)$"
LICENCE_DESCRIPTION = "An SPDX identifier (CC-BY-4.0) or the licence's URL"
MediaKind = Literal["camera_trap", "objects"]
MEDIA_KIND_DESCRIPTION = (
    "camera_trap: images and videos a detector looks through, tied to camera deployments; "
    "objects: each image is one object's whole crop (plankton vignettes), classified as it "
    "is, with its sample, depth and features, and no deployment"
)

OPEN_DESCRIPTION = (
    "Whether anyone signed in may join the project as a volunteer "
    "(POST /v1/citsci/projects/{id}/join); closed by default"
)


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, NameRule(200, min_length=1)]
    description: Annotated[str, TextRule(10_000)] = ""
    event_gap_s: int = Field(default=60, ge=1, le=86_400)
    independence_interval_s: int = Field(default=1800, ge=0, le=30 * 86_400)
    data_license: str = Field(
        default="", max_length=300, pattern=LICENCE_PATTERN, description=LICENCE_DESCRIPTION
    )
    media_kind: MediaKind = Field(default="camera_trap", description=MEDIA_KIND_DESCRIPTION)
    open_to_volunteers: bool = Field(default=False, description=OPEN_DESCRIPTION)


class ProjectUpdate(BaseModel):
    """What a manager may change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, NameRule(200, min_length=1)] | None = None
    description: Annotated[str, TextRule(10_000)] | None = None
    event_gap_s: int | None = Field(default=None, ge=1, le=86_400)
    independence_interval_s: int | None = Field(default=None, ge=0, le=30 * 86_400)
    data_license: str | None = Field(
        default=None, max_length=300, pattern=LICENCE_PATTERN, description=LICENCE_DESCRIPTION
    )
    media_kind: MediaKind | None = Field(default=None, description=MEDIA_KIND_DESCRIPTION)
    open_to_volunteers: bool | None = Field(default=None, description=OPEN_DESCRIPTION)


class ProjectPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    event_gap_s: int
    independence_interval_s: int
    data_license: str
    media_kind: str
    open_to_volunteers: bool
    created_by: str
    created_at: datetime
