"""Alert rules, the deliveries they cause (the outbox the delivery worker drains), and every
attempt at one."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class AlertRule(CatalogueTable, table=True):
    __tablename__ = "alert_rules"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    # What is looked for: a taxon (with every taxon below it), an observation type, or both.
    taxon_id: uuid.UUID | None = Field(default=None, foreign_key="taxa.id")
    observation_type: str | None = Field(default=None, max_length=20)
    min_confidence: float = 0.5
    # Where: these locations only; empty for anywhere in the project.
    location_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # When, on the camera's own clock: "HH:MM" from/to (wrapping past midnight when from is
    # later than to) and a date range, both ends included.
    time_from: str | None = Field(default=None, max_length=5)
    time_to: str | None = Field(default=None, max_length=5)
    date_from: date | None = None
    date_to: date | None = None
    webhook_url: str = Field(max_length=2000)
    # The HMAC key deliveries are signed with; shown once, when the rule is created.
    secret: str = Field(max_length=200)
    enabled: bool = True
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class AlertDelivery(CatalogueTable, table=True):
    """One webhook to send: a rule matched a medium. The body is fixed when it is queued, so
    that every retry sends the same bytes."""

    __tablename__ = "alert_deliveries"
    # One alert per rule and medium, however many model versions look at it.
    __table_args__ = (UniqueConstraint("rule_id", "media_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    rule_id: uuid.UUID = Field(foreign_key="alert_rules.id", index=True, ondelete="CASCADE")
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    media_id: uuid.UUID = Field(foreign_key="media.id", ondelete="CASCADE")
    body: str = Field(sa_column=Column(Text, nullable=False))
    # pending, delivered, failed (gave up after the last attempt)
    status: str = Field(default="pending", max_length=10, index=True)
    attempts: int = 0
    # When the worker may next try it: now for a new one, later after a failure, and a lease
    # ahead while one worker is sending it.
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
    last_error: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class DeliveryAttempt(CatalogueTable, table=True):
    __tablename__ = "alert_delivery_attempts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    delivery_id: uuid.UUID = Field(
        foreign_key="alert_deliveries.id", index=True, ondelete="CASCADE"
    )
    number: int
    started_at: datetime = Field(sa_type=UtcDateTime)
    duration_ms: float
    # The receiver's HTTP status; None when it did not answer (refused, timed out).
    status_code: int | None = None
    error: str = Field(default="", max_length=2000)
    # delivered, retry (another attempt is scheduled), failed (the last one)
    outcome: str = Field(max_length=10)
