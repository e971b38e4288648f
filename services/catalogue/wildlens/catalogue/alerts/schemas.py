from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from wildlens.common.text import NameRule

ObservationType = Literal["animal", "human", "vehicle"]


class _RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _consistent(self) -> _RuleFields:
        start, end = getattr(self, "time_from", None), getattr(self, "time_to", None)
        if (start is None) != (end is None):
            raise ValueError("time_from and time_to go together")
        first, last = getattr(self, "date_from", None), getattr(self, "date_to", None)
        if first is not None and last is not None and last < first:
            raise ValueError("date_to must not be before date_from")
        return self


class AlertRuleCreate(_RuleFields):
    name: Annotated[str, NameRule(200, min_length=1)]
    # Observations of this taxon or any taxon below it.
    taxon_id: uuid.UUID | None = None
    observation_type: ObservationType | None = None
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    # Only at these locations; empty for anywhere in the project.
    location_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    # Time of day on the camera's clock; from later than to wraps past midnight (22:00-05:00).
    time_from: time | None = None
    time_to: time | None = None
    # Capture dates on the camera's clock, both included.
    date_from: date | None = None
    date_to: date | None = None
    webhook_url: AnyHttpUrl
    # The HMAC-SHA256 key deliveries are signed with; one is generated when left out.
    secret: Annotated[str, NameRule(200, min_length=16)] | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _looks_for_something(self) -> AlertRuleCreate:
        if self.taxon_id is None and self.observation_type is None:
            raise ValueError("a rule needs a taxon_id, an observation_type, or both")
        return self


class AlertRuleUpdate(_RuleFields):
    """What to change; fields left out stay as they are (send null to clear an optional one)."""

    name: Annotated[str, NameRule(200, min_length=1)] | None = None
    taxon_id: uuid.UUID | None = None
    observation_type: ObservationType | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    location_ids: list[uuid.UUID] | None = Field(default=None, max_length=1000)
    time_from: time | None = None
    time_to: time | None = None
    date_from: date | None = None
    date_to: date | None = None
    webhook_url: AnyHttpUrl | None = None
    # A new signing key (rotation): deliveries from now on are signed with it.
    secret: Annotated[str, NameRule(200, min_length=16)] | None = None
    enabled: bool | None = None


class AlertRulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    taxon_id: uuid.UUID | None
    observation_type: str | None
    min_confidence: float
    location_ids: list[uuid.UUID]
    time_from: str | None
    time_to: str | None
    date_from: date | None
    date_to: date | None
    webhook_url: str
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class AlertRuleCreated(AlertRulePublic):
    # The signing key, shown this once.
    secret: str


class AttemptPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str
    outcome: Literal["delivered", "retry", "failed"]


class DeliveryPublic(BaseModel):
    id: uuid.UUID
    rule_id: uuid.UUID
    media_id: uuid.UUID
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[AttemptPublic]
