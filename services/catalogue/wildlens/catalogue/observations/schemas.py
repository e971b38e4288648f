from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ObservationType = Literal["animal", "human", "vehicle", "blank", "unknown", "unclassified"]
VerificationState = Literal["predicted", "validated", "dubious", "discarded"]
# Camtrap DP's lifeStage and sex vocabularies.
LifeStage = Literal["adult", "subadult", "juvenile"]
Sex = Literal["female", "male"]


class Correction(BaseModel):
    """What a person says the observation really is; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    observation_type: ObservationType | None = None
    # A taxon of the tree; or a scientific name, resolved against the tree where it is there.
    taxon_id: uuid.UUID | None = None
    scientific_name: str | None = Field(default=None, min_length=1, max_length=200)
    count: int | None = Field(default=None, ge=1)
    life_stage: LifeStage | None = None
    sex: Sex | None = None
    behavior: str | None = Field(default=None, max_length=1000)
    individual_id: str | None = Field(default=None, max_length=200)
    comments: str | None = Field(default=None, max_length=5000)


class Revert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # 0 is the observation as first recorded; n the state right after change n.
    version: int = Field(ge=0)


class ObservationState(BaseModel):
    id: uuid.UUID
    media_id: uuid.UUID | None
    verification_state: VerificationState
    observation_type: str
    taxon_id: uuid.UUID | None
    scientific_name: str
    count: int | None
    life_stage: str
    sex: str
    behavior: str
    individual_id: str
    comments: str
    confidence: float | None
    classification_confidence: float | None
    classification_method: str
    classified_by: str
    classification_timestamp: datetime | None
    verified_by: str
    verified_at: datetime | None
    # How many changes the observation has had; revert takes any version up to this.
    version: int


class ObservationChangePublic(BaseModel):
    version: int
    action: str
    changed_by: str
    changed_at: datetime
    before: dict[str, Any]
    after: dict[str, Any]


class ReviewReason(BaseModel):
    # low_confidence, model_disagreement, volunteer_disagreement, rare_taxon
    reason: str
    weight: float
    detail: str


class ReviewItem(BaseModel):
    media_id: uuid.UUID
    event_id: uuid.UUID | None
    captured_at: datetime | None
    # Higher first: the sum of the reasons' weights.
    score: float
    reasons: list[ReviewReason]
    observation_ids: list[uuid.UUID]
    scientific_names: list[str]
