"""Selection policies and selections as the API reads and writes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wildlens.citsci.zooniverse.schemas import SendReportPublic

__all__ = [
    "ChosenSubject",
    "Clip",
    "SelectionPolicyIn",
    "SelectionPolicyPublic",
    "SelectionReason",
    "SelectionRequest",
    "SelectionResult",
    "Skipped",
]

Fraction = Annotated[float, Field(ge=0, le=1)]
# A subject shows at most this many pictures (the built-in volunteers' limit).
MAX_FRAMES = 20
# Subjects one call makes: each is looked up, and for Zooniverse uploaded, before the answer.
MAX_SELECT = 100


class SelectionPolicyIn(BaseModel):
    """What goes to people. A medium is chosen for every reason it meets; one that meets none
    may still be drawn for quality control. Media an expert validated, media of subjects the
    set holds, blanks the detector is sure of and, where the project hides people, media with
    people are never chosen."""

    model_config = ConfigDict(extra="forbid")

    # The model is unsure: its least certain label (detector confidence times classifier
    # probability) is below ``max_certainty``, or its top-k's normalised entropy is at least
    # ``min_entropy``, or its first label leads the second by at most ``max_margin``.
    uncertain: bool = True
    max_certainty: Fraction = 0.6
    min_entropy: Fraction = 0.6
    max_margin: Fraction = 0.2
    # Models disagree with each other, or volunteers' consensus disagrees with the model.
    disagreement: bool = True
    # The model names a species the project has fewer than ``rare_below`` validated
    # observations of.
    rare_taxa: bool = True
    rare_below: Annotated[int, Field(ge=1, le=1_000_000)] = 5
    # No detector has looked at it yet.
    not_analysed: bool = True
    # The share of the confident ones (no reason above) drawn for quality control, by a hash
    # of the medium and ``seed``: the same media for the same seed, whenever selected.
    quality_control_rate: Fraction = 0.05
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    # A blank is sure when its certainty is at least this; sure blanks never go to people.
    sure_blank_certainty: Fraction = 0.8
    # An event's pictures (a video's frames) make one subject of at most ``max_frames``;
    # False: each medium is a subject of its own.
    group_events: bool = True
    max_frames: Annotated[int, Field(ge=1, le=MAX_FRAMES)] = 10

    @model_validator(mode="after")
    def _selects_something(self) -> SelectionPolicyIn:
        if not (
            self.uncertain
            or self.disagreement
            or self.rare_taxa
            or self.not_analysed
            or self.quality_control_rate > 0
        ):
            raise ValueError(
                "the policy selects nothing: turn on a reason or draw a quality-control sample"
            )
        return self


class SelectionPolicyPublic(SelectionPolicyIn):
    project_id: uuid.UUID
    # Who set it and when; None for the defaults.
    updated_by: str | None = None
    updated_at: datetime | None = None


class SelectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Subjects to make at most.
    limit: Annotated[int, Field(ge=1, le=MAX_SELECT)] = 20
    # Answer what would be chosen, making no subject and sending nothing.
    dry_run: bool = False


class SelectionReason(BaseModel):
    # uncertain, disagreement, rare_taxon, not_analysed, quality_control
    reason: str
    detail: str


class Clip(BaseModel):
    """The part of a video a subject's frames span."""

    video_media_id: uuid.UUID
    start_s: float
    end_s: float


class ChosenSubject(BaseModel):
    media_ids: list[uuid.UUID]
    # The medium that was chosen; the others are its event's pictures or its video's frames.
    chosen_media_id: uuid.UUID
    reasons: list[SelectionReason]
    clip: Clip | None = None
    # The built-in subject made (None for a dry run, Zooniverse, or one the set held).
    subject_id: uuid.UUID | None = None


class Skipped(BaseModel):
    media_id: uuid.UUID
    reason: str


class SelectionResult(BaseModel):
    subject_set_id: uuid.UUID
    subjects: list[ChosenSubject]
    # Candidates passed over where the reason matters (people, a video without frames).
    skipped: list[Skipped]
    # Candidates weighed.
    scanned: int
    dry_run: bool
    # For a Zooniverse set: what sending the chosen media did.
    sent: SendReportPublic | None = None
