"""The API's views of observations: one base that every view shares, each view's extras in a
subclass (here and in the domains that show observations), one mapper from the table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wildlens.catalogue.models import Observation
from wildlens.common.text import NameRule, TextRule

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
    scientific_name: Annotated[str, NameRule(200, min_length=1)] | None = None
    count: int | None = Field(default=None, ge=1)
    life_stage: LifeStage | None = None
    sex: Sex | None = None
    behavior: Annotated[str, TextRule(1000)] | None = None
    individual_id: Annotated[str, NameRule(200)] | None = None
    comments: Annotated[str, TextRule(5000)] | None = None


class Labelling(Correction):
    """A person's label for a medium nobody has labelled, no detector included; the label is
    theirs and validated. ``bbox``: relative [x, y, width, height], top-left origin."""

    observation_type: ObservationType
    bbox: list[float] | None = Field(default=None, min_length=4, max_length=4)

    @field_validator("bbox")
    @classmethod
    def _inside(cls, box: list[float] | None) -> list[float] | None:
        if box is not None:
            x, y, w, h = box
            if min(box) < 0 or w <= 0 or h <= 0 or x + w > 1 or y + h > 1:
                raise ValueError("the box must lie inside the image, in fractions of its size")
        return box


class Revert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # 0 is the observation as first recorded; n the state right after change n.
    version: int = Field(ge=0)


class LabelProbability(BaseModel):
    """One label of a classifier's top-k."""

    label: str
    scientific_name: str
    probability: float


class ObservationBase(BaseModel):
    """What every view of an observation shows: which it is and the label it carries, and for
    a machine's, the classifier's top-k with how unsure it was (normalised entropy of the top-k
    and the rest, margin between the first two labels; see the README's review queue)."""

    id: uuid.UUID
    observation_type: str
    confidence: float | None
    scientific_name: str
    taxon_id: uuid.UUID | None
    classification_method: str
    classified_by: str
    top_labels: list[LabelProbability] = []
    classification_entropy: float | None = None
    classification_margin: float | None = None

    @classmethod
    def from_row(cls, observation: Observation, **extras: Any) -> Self:
        """The view of ``observation``: each of the view's fields read from the row, except
        those in ``extras`` (what the row does not hold, or what this view shows otherwise)."""
        unknown = extras.keys() - cls.model_fields.keys()
        if unknown:
            raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
        return cls.model_validate(
            {
                name: extras[name] if name in extras else getattr(observation, name)
                for name in cls.model_fields
            }
        )


class ConsensusBox(BaseModel):
    media_id: uuid.UUID | None = None
    bbox: list[float]
    scientific_name: str = ""
    votes: int = 0


class ConsensusProvenance(BaseModel):
    """A retired citizen-science subject's consensus, as the catalogue stored it."""

    model_config = ConfigDict(from_attributes=True)

    consensus_id: str
    version: int
    subject_id: str
    workflow_id: str
    subject_set_id: str
    platform: str
    method: str
    votes: int
    agreement: float
    classification_count: int
    pielou_evenness: float
    fraction_blank: float
    boxes: list[ConsensusBox]
    retirement_reason: str
    retired_at: datetime | None


class ObservationState(ObservationBase):
    media_id: uuid.UUID | None
    verification_state: VerificationState
    count: int | None
    life_stage: str
    sex: str
    behavior: str
    individual_id: str
    comments: str
    classification_confidence: float | None
    classification_timestamp: datetime | None
    verified_by: str
    verified_at: datetime | None
    # How many changes the observation has had; revert takes any version up to this.
    version: int
    # Where a volunteers' consensus came from (None for anyone else's label).
    consensus: ConsensusProvenance | None = None


class ObservationChangePublic(BaseModel):
    version: int
    action: str
    changed_by: str
    changed_at: datetime
    before: dict[str, Any]
    after: dict[str, Any]


class ReviewReason(BaseModel):
    # low_confidence, high_entropy, small_margin, model_disagreement, volunteer_disagreement,
    # rare_taxon, not_analysed
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
    # What the volunteers' consensus says, apart from the model's and experts' labels.
    volunteer_observation_ids: list[uuid.UUID] = []
    volunteer_scientific_names: list[str] = []


class CandidateMedium(BaseModel):
    """A medium shown with a candidate: one picture of its event, or one frame of its video."""

    media_id: uuid.UUID
    kind: str
    # Milliseconds from the video's start, for a frame.
    offset_ms: int | None = None
    # Shows people and the project hides them: it never leaves the platform.
    people_hidden: bool = False


class SelectionCandidate(BaseModel):
    """An unverified medium as selection for volunteers weighs it: the review queue's item
    with the parts its score is made of, and what it would be shown with."""

    media_id: uuid.UUID
    kind: str
    event_id: uuid.UUID | None
    # The video a frame was cut from, and where in it (milliseconds).
    parent_media_id: uuid.UUID | None
    offset_ms: int | None
    captured_at: datetime | None
    score: float
    reasons: list[ReviewReason]
    scientific_names: list[str]
    # The lowest certainty (detector's confidence times classifier's probability), the
    # highest normalised entropy and the smallest margin of the current machine labels.
    lowest_certainty: float | None
    entropy: float | None
    margin: float | None
    # The fewest validated observations in the project among the species the model names.
    rarest_validated: int | None
    volunteers_disagree: bool
    models_disagree: bool
    not_analysed: bool
    # Every current machine label says blank (or the detector found nothing).
    blank: bool
    # Shows people and the project hides them: it never leaves the platform.
    people_hidden: bool
    # "event": the other pictures of its event; "video": the frames cut from its video
    # (for a frame, its siblings; for a video, its own); None: shown alone. At most
    # ``MAX_GROUP`` around the medium, in order.
    group_kind: Literal["event", "video"] | None
    group: list[CandidateMedium]
