"""Media sent to Zooniverse: which subject each became, and how far its sending got."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field

from wildlens.citsci.models.base import CitsciTable
from wildlens.common.db import UtcDateTime, utcnow

__all__ = ["SentState", "ZooniverseClassification", "ZooniverseSubject"]

# created: Panoptes made the subject, its image may not have arrived (a later run deletes it
# and sends the medium again); uploaded: the image arrived; linked: it is in the subject set,
# shown to volunteers; retired: Wildlens retired it there too; withdrawn: it shows people the
# project hides (labelled after it was sent), retired there and never sent again.
SentState = Literal["created", "uploaded", "linked", "retired", "withdrawn"]


class ZooniverseSubject(CitsciTable, table=True):
    """One medium of a subject set, as a Zooniverse subject."""

    __tablename__ = "zooniverse_subjects"
    __table_args__ = (
        UniqueConstraint("subject_set_id", "media_id"),
        UniqueConstraint("zooniverse_subject_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject_set_id: uuid.UUID = Field(foreign_key="subject_sets.id", index=True)
    project_id: uuid.UUID
    media_id: uuid.UUID
    zooniverse_subject_id: str = Field(max_length=20)
    # Every medium the subject shows, in the order volunteers see them (an event's pictures,
    # a video clip's frames); ``media_id`` is the first. None: a single image (``media_id``).
    media_ids: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    state: str = Field(default="created", max_length=10)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # The (first) display copy's pixels: volunteers draw boxes in them, the catalogue keeps them
    # relative. None for subjects sent before they were recorded (their boxes are left out).
    width: int | None = None
    height: int | None = None
    # When Wildlens retired it and why (a RetirementReason's value, or "expert" when an
    # expert validated the medium). Retired here while ``state`` is still "linked": the
    # retirement has yet to reach Zooniverse, and is tried again until it does.
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    retirement_reason: str | None = Field(default=None, max_length=30)
    # How many consensuses were published for it (the version of the latest).
    consensus_version: int = 0

    def frames(self) -> list[uuid.UUID]:
        """The media the subject shows, in order."""
        return [uuid.UUID(m) for m in self.media_ids] if self.media_ids else [self.media_id]


class ZooniverseClassification(CitsciTable, table=True):
    """One Zooniverse volunteer's classification of a subject, pulled from the workflow's
    export: stored once per Zooniverse classification id, never with the volunteer's IP
    address or user name."""

    __tablename__ = "zooniverse_classifications"
    __table_args__ = (UniqueConstraint("zooniverse_classification_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    zooniverse_classification_id: int = Field(sa_type=BigInteger)
    subject_id: uuid.UUID = Field(foreign_key="zooniverse_subjects.id", index=True)
    subject_set_id: uuid.UUID = Field(index=True)
    project_id: uuid.UUID
    # "user:<Zooniverse user id>", or "not-logged-in:<classification id>" for a volunteer who
    # was not logged in (never the export's name for them, a hash of their IP address).
    volunteer: str = Field(max_length=200)
    workflow_version: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UtcDateTime)
    gold_standard: bool = False
    expert: bool = False
    nothing_here: bool = False
    # As the built-in volunteers' (VolunteerClassification): [{"scientific_name", "taxon_id",
    # "count", "behaviours", "choice"}] and relative [{"media_id", "x", "y", "width",
    # "height"}].
    taxa: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    boxes: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    pulled_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
