"""Subjects of built-in subject sets and the classifications Wildlens' own volunteers give them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

from wildlens.citsci.models.base import CitsciTable
from wildlens.common.db import UtcDateTime, utcnow

__all__ = ["SubjectState", "VolunteerClassification", "VolunteerSubject"]

# active: shown to volunteers until it retires; retired: its consensus was published;
# gold: an expert validated its media, so it no longer needs volunteers and is shown now and
# then as a gold-standard subject, to measure them; withdrawn: it shows people the project
# hides (labelled after it was made), so it goes to nobody any more.
SubjectState = Literal["active", "retired", "gold", "withdrawn"]


class VolunteerSubject(CitsciTable, table=True):
    """A single image, the frames of one event, or frames of a video clip, classified by the
    built-in volunteers."""

    __tablename__ = "volunteer_subjects"
    __table_args__ = (Index("ix_volunteer_subjects_project_state", "project_id", "state"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject_set_id: uuid.UUID = Field(foreign_key="subject_sets.id", index=True)
    project_id: uuid.UUID
    # The media in the order volunteers see them, and their hashes (which name the display
    # copies): lists of text.
    media_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    sha256s: list[str] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default="active", max_length=10)
    # The scientific names the expert gave, for a gold subject ("" for "nothing here").
    expert_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # For a clip: the video its frames were cut from, and the seconds of it they span.
    video_media_id: uuid.UUID | None = None
    clip_start_s: float | None = None
    clip_end_s: float | None = None
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    retirement_reason: str | None = Field(default=None, max_length=30)
    # How many consensuses were published for it (the version of the latest).
    consensus_version: int = 0
    # The scientific names the latest consensus agreed on (empty: blank).
    consensus_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The method the latest consensus used (its set's when it retired).
    consensus_method: str | None = Field(default=None, max_length=20)


class VolunteerClassification(CitsciTable, table=True):
    """One volunteer's answer for one subject: one per volunteer per subject."""

    __tablename__ = "volunteer_classifications"
    __table_args__ = (
        UniqueConstraint("subject_id", "volunteer"),
        Index("ix_volunteer_classifications_project_volunteer", "project_id", "volunteer"),
        # The newest of a project's first: Dawid-Skene's window.
        Index("ix_volunteer_classifications_project_created", "project_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject_id: uuid.UUID = Field(foreign_key="volunteer_subjects.id", index=True)
    project_id: uuid.UUID
    volunteer: str = Field(max_length=200)
    nothing_here: bool = False
    # [{"scientific_name", "taxon_id", "count", "behaviours"}], one per species seen.
    taxa: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # [{"media_id", "x", "y", "width", "height", "scientific_name"}], relative, top-left.
    boxes: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
