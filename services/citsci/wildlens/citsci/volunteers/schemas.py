"""Subjects, classifications, stats and progress as the volunteer API reads and writes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wildlens.common.text import NameRule

__all__ = [
    "BoxIn",
    "ClassificationCreate",
    "ClassificationPublic",
    "ClipIn",
    "JoinedProject",
    "NextSubject",
    "ProjectProgress",
    "SubjectIn",
    "SubjectMediumView",
    "SubjectPublic",
    "SubjectView",
    "SubjectsCreate",
    "SubjectsCreated",
    "TaxonVote",
    "VolunteerStats",
]

# A subject is one image or the frames of one event: a camera trap's burst rarely holds more.
MAX_FRAMES = 20
MAX_SUBJECTS = 100
# Each medium is looked up in the catalogue: a call names at most this many in all.
MAX_MEDIA = 200
MAX_TAXA = 20
MAX_BOXES = 100
MAX_COUNT = 999
Fraction = Annotated[float, Field(ge=0, le=1)]
Behaviour = Annotated[str, NameRule(100, min_length=1)]


class ClipIn(BaseModel):
    """The part of a video a subject's frames span."""

    model_config = ConfigDict(extra="forbid")

    video_media_id: uuid.UUID
    start_s: Annotated[float, Field(ge=0, le=7 * 24 * 3600)]
    end_s: Annotated[float, Field(ge=0, le=7 * 24 * 3600)]

    @model_validator(mode="after")
    def _ordered(self) -> ClipIn:
        if self.end_s < self.start_s:
            raise ValueError("a clip ends at or after its start: end_s >= start_s")
        return self


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A single image, or the frames of one event in the order volunteers should see them.
    media_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_FRAMES)]

    @model_validator(mode="after")
    def _distinct(self) -> SubjectIn:
        if len(set(self.media_ids)) != len(self.media_ids):
            raise ValueError("a subject names each medium once")
        return self


class SubjectsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subjects: Annotated[list[SubjectIn], Field(min_length=1, max_length=MAX_SUBJECTS)]

    @model_validator(mode="after")
    def _few_media(self) -> SubjectsCreate:
        if sum(len(s.media_ids) for s in self.subjects) > MAX_MEDIA:
            raise ValueError(f"a call names at most {MAX_MEDIA} media in all; send the rest next")
        return self


class SubjectPublic(BaseModel):
    """A subject as the project's managers see it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subject_set_id: uuid.UUID
    project_id: uuid.UUID
    media_ids: list[uuid.UUID]
    # active, retired, gold (an expert validated its media), or withdrawn (people were
    # labelled on it and the project hides them).
    state: str
    retirement_reason: str | None
    consensus_version: int
    created_at: datetime
    retired_at: datetime | None
    # For frames of a video: the video and the seconds of it they span.
    video_media_id: uuid.UUID | None = None
    clip_start_s: float | None = None
    clip_end_s: float | None = None


class SubjectsCreated(BaseModel):
    created: list[SubjectPublic]
    # Subjects the set held already (the same media in the same order): left as they are.
    already: int


class SubjectMediumView(BaseModel):
    media_id: uuid.UUID
    # A signed URL of the medium's display copy (GPS-free); never the original.
    display_url: str


class SubjectView(BaseModel):
    """A subject as a volunteer sees it: its media's display copies, nothing about where."""

    id: uuid.UUID
    subject_set_id: uuid.UUID
    project_id: uuid.UUID
    media: list[SubjectMediumView]
    # For frames of a video clip: the seconds of the video they span.
    clip_start_s: float | None = None
    clip_end_s: float | None = None


class NextSubject(BaseModel):
    # None when no subject waits for this volunteer in the project.
    subject: SubjectView | None


class TaxonVote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scientific_name: Annotated[str, NameRule(200, min_length=1)]
    taxon_id: uuid.UUID | None = None
    count: Annotated[int, Field(ge=1, le=MAX_COUNT)] | None = None
    behaviours: Annotated[list[Behaviour], Field(max_length=20)] = []


class BoxIn(BaseModel):
    """A box around one animal: relative [x, y, width, height], top-left origin."""

    model_config = ConfigDict(extra="forbid")

    media_id: uuid.UUID
    x: Fraction
    y: Fraction
    width: Annotated[float, Field(gt=0, le=1)]
    height: Annotated[float, Field(gt=0, le=1)]
    scientific_name: Annotated[str, NameRule(200, min_length=1)] | None = None

    @model_validator(mode="after")
    def _inside(self) -> BoxIn:
        if self.x + self.width > 1 + 1e-9 or self.y + self.height > 1 + 1e-9:
            raise ValueError("a box lies inside the image: x + width and y + height at most 1")
        return self


class ClassificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The species seen, each once; empty when nothing_here.
    taxa: Annotated[list[TaxonVote], Field(max_length=MAX_TAXA)] = []
    nothing_here: bool = False
    boxes: Annotated[list[BoxIn], Field(max_length=MAX_BOXES)] = []

    @model_validator(mode="after")
    def _said_something(self) -> ClassificationCreate:
        if self.nothing_here and self.taxa:
            raise ValueError("a classification names taxa or says nothing_here, not both")
        if not self.nothing_here and not self.taxa:
            raise ValueError("name at least one taxon, or say nothing_here")
        names = [t.scientific_name.casefold() for t in self.taxa]
        if len(set(names)) != len(names):
            raise ValueError("each taxon is named once; give its count instead")
        if self.nothing_here and self.boxes:
            raise ValueError("nothing_here draws no boxes")
        return self


class ClassificationPublic(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    nothing_here: bool
    taxa: list[TaxonVote]
    boxes: list[BoxIn]
    created_at: datetime
    # Whether this classification retired the subject, and its state after it.
    retired: bool
    subject_state: str


class VolunteerStats(BaseModel):
    project_id: uuid.UUID
    classifications: int
    # Of the caller's classifications of subjects that retired since: how many named what the
    # consensus named (the same species, or both "nothing here").
    retired_classified: int
    agreed_with_consensus: int
    agreement: float | None
    # Of the caller's classifications of gold-standard subjects: how many named what the
    # expert named.
    gold_classified: int
    gold_correct: int
    gold_accuracy: float | None


class ProjectProgress(BaseModel):
    project_id: uuid.UUID
    subjects_active: int
    subjects_retired: int
    subjects_gold: int
    classifications: int
    volunteers: int


class JoinedProject(BaseModel):
    """The caller's standing in a project after joining it, and a token that carries it."""

    project_id: uuid.UUID
    subject: str
    role: str
    # Whether this call made the caller a volunteer (false: they were one, or more, already).
    joined: bool
    # A token with the caller's memberships as they are now, the new role included: services
    # read roles from the token, so the token the caller came with does not show it yet.
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
