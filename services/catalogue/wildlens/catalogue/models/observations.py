"""Observations, the model runs that made the machine's, and every change people made to one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class ModelRun(CatalogueTable, table=True):
    """One model version's analysis of one medium; its natural key makes redelivery harmless."""

    __tablename__ = "model_runs"
    __table_args__ = (UniqueConstraint("media_id", "model_name", "model_version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    media_id: uuid.UUID = Field(foreign_key="media.id", index=True, ondelete="CASCADE")
    model_name: str = Field(max_length=200)
    model_version: str = Field(max_length=100)
    model_sha256: str = Field(default="", max_length=64)
    classifier_name: str = Field(default="", max_length=200)
    classifier_version: str = Field(default="", max_length=100)
    detection_threshold: float = 0.0
    failure: str = ""
    timings_ms: dict[str, float] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    analyzed_at: datetime = Field(sa_type=UtcDateTime)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # The ``info`` of the MegaDetector results file a run was imported from (thresholds,
    # classifier metadata and the like), given back as it came when the results are exported;
    # empty for the platform's own runs.
    results_info: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )


# Most of a project's observations are the machine's: never imported (no external id) and
# never verified (still predicted). Partial indexes leave them out, so storing one writes no
# entry in either, while imports and the review queue still find the few that count.
_IMPORTED = text("external_id IS NOT NULL")
_VERIFIED = text("verification_state <> 'predicted'")
_HUMAN = text("classification_method = 'human'")
_EVENT_LEVEL = text("media_id IS NULL")
_IN_IMPORTED_EVENT = text("event_external_id IS NOT NULL")

# Volunteer labels are human labels whose ``classified_by`` names the crowd, not a person:
# ``volunteers:<platform>[:<subject set>]`` (for example ``volunteers:zooniverse``).
VOLUNTEERS_PREFIX = "volunteers:"


class Observation(CatalogueTable, table=True):
    __tablename__ = "observations"
    __table_args__ = (
        Index(
            "ix_observations_external_id",
            "external_id",
            postgresql_where=_IMPORTED,
            sqlite_where=_IMPORTED,
        ),
        Index(
            "ix_observations_verified",
            "project_id",
            "verification_state",
            postgresql_where=_VERIFIED,
            sqlite_where=_VERIFIED,
        ),
        # Statistics leave a medium's machine labels out where a person labelled it; the few
        # media with a person's label are found here instead of in a scan of every observation.
        Index(
            "ix_observations_human_media",
            "project_id",
            "media_id",
            postgresql_where=_HUMAN,
            sqlite_where=_HUMAN,
        ),
        # Lists end with the event-level observations (no medium), paged by id; this holds
        # just those, so that part of a list never walks the project's other observations.
        Index(
            "ix_observations_event_level",
            "project_id",
            "id",
            postgresql_where=_EVENT_LEVEL,
            sqlite_where=_EVENT_LEVEL,
        ),
        # The statistics' records of a changed sequence an import named are recomputed from
        # its observations, found here; the machine's (no eventID) are left out.
        Index(
            "ix_observations_event_external_id",
            "project_id",
            "event_external_id",
            postgresql_where=_IN_IMPORTED_EVENT,
            sqlite_where=_IN_IMPORTED_EVENT,
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    # None for event-level observations (Camtrap DP observationLevel "event").
    media_id: uuid.UUID | None = Field(
        default=None, foreign_key="media.id", index=True, ondelete="CASCADE"
    )
    model_run_id: uuid.UUID | None = Field(
        default=None, foreign_key="model_runs.id", ondelete="CASCADE"
    )
    # animal, human, vehicle, blank, unknown, unclassified (Camtrap DP's observationType).
    observation_type: str = Field(max_length=20)
    category: str = Field(max_length=50)
    confidence: float | None = None
    bbox_x: float | None = None
    bbox_y: float | None = None
    bbox_width: float | None = None
    bbox_height: float | None = None
    scientific_name: str = Field(default="", max_length=200)
    classification_method: str = Field(default="machine", max_length=10)
    classified_by: str = Field(default="", max_length=300)
    classified_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # The taxon the scientific name resolved to, where it was resolved; taxon queries fall
    # back to the name for rows without one.
    taxon_id: uuid.UUID | None = Field(default=None, foreign_key="taxa.id", index=True)
    # Camtrap DP observation fields. classification_timestamp is when the classifier said
    # so, as imported data states it (classified_at is when the catalogue recorded it).
    external_id: str | None = Field(default=None, max_length=200)
    deployment_id: uuid.UUID | None = Field(default=None, foreign_key="deployments.id", index=True)
    observation_level: str = Field(default="media", max_length=10)
    event_external_id: str | None = Field(default=None, max_length=200)
    event_start: datetime | None = Field(default=None, sa_type=UtcDateTime)
    event_end: datetime | None = Field(default=None, sa_type=UtcDateTime)
    camera_setup_type: str = Field(default="", max_length=30)
    count: int | None = None
    life_stage: str = Field(default="", max_length=20)
    sex: str = Field(default="", max_length=20)
    behavior: str = ""
    individual_id: str = Field(default="", max_length=200)
    individual_position_radius: float | None = None
    individual_position_angle: float | None = None
    individual_speed: float | None = None
    classification_timestamp: datetime | None = Field(default=None, sa_type=UtcDateTime)
    tags: str = ""
    comments: str = ""
    # The classifier's probability for its top label (``confidence`` is the detector's for the
    # box); the review queue puts low values first.
    classification_confidence: float | None = None
    # A machine observation's top-k as the classifier gave it, best first:
    # ``[{"label", "scientific_name", "probability"}, ...]``; empty for people's labels.
    top_labels: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # How unsure the classifier was (``media.uncertainty``): the entropy of the top-k plus the
    # mass left outside it, over its most (0 sure, 1 as unsure as k + 1 outcomes allow), and
    # the margin between its first and second label. The review queue ranks by both; None
    # without a classifier's top-k.
    classification_entropy: float | None = None
    classification_margin: float | None = None
    # EcoTaxa's verification states: predicted (a machine's guess, or a volunteers'
    # consensus, as yet unjudged), validated, dubious, discarded. As in EcoTaxa, a person's
    # own identification is validated by that person; verifying it later names the verifier
    # here and keeps the identifier in classified_by. Every change is in observation_history.
    verification_state: str = Field(default="predicted", max_length=10)
    verified_by: str = Field(default="", max_length=300)
    verified_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The label smoothed across the media's event (the majority of its labels), next to the
    # machine's own label, which is never overwritten; empty where there is none.
    smoothed_scientific_name: str = Field(default="", max_length=200)
    smoothed_taxon_id: uuid.UUID | None = None

    @property
    def bbox(self) -> list[float] | None:
        """Relative ``[x, y, width, height]``, top-left origin; None without a box."""
        box = [self.bbox_x, self.bbox_y, self.bbox_width, self.bbox_height]
        return [v for v in box if v is not None] if None not in box else None

    @property
    def by_a_person(self) -> bool:
        """A person's own identification: a human label that is not a volunteers' consensus."""
        return self.classification_method == "human" and not self.classified_by.startswith(
            VOLUNTEERS_PREFIX
        )

    def identified_on_import(self) -> None:
        """A person's identification an import brought is not a guess awaiting a verdict: as
        in EcoTaxa it is validated by that person, when they made it. A later verification
        names its verifier instead, and a re-import leaves that in place."""
        if self.verification_state == "predicted" and self.by_a_person:
            self.verification_state = "validated"
            self.verified_by = self.classified_by
            self.verified_at = self.classification_timestamp


class ObservationChange(CatalogueTable, table=True):
    """One change to one observation: who made it, when, and its fields before and after.

    Versions count from 1 per observation; version 0 is the observation as first recorded (the
    ``before`` of version 1), so any earlier state can be restored.
    """

    __tablename__ = "observation_history"
    __table_args__ = (UniqueConstraint("observation_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    observation_id: uuid.UUID = Field(foreign_key="observations.id", index=True, ondelete="CASCADE")
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    version: int
    # validate, dubious, discard, correct, revert
    action: str = Field(max_length=20)
    changed_by: str = Field(max_length=300)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class VolunteerConsensus(CatalogueTable, table=True):
    """Where a volunteers' consensus observation came from: the retired citizen-science
    subject, and how strongly its volunteers agreed (Snapshot Serengeti's measures).

    One row per consensus observation; ``consensus_id`` (stable per subject and workflow)
    finds the observations a later consensus for the same subject replaces, and ``version``
    keeps an older or repeated one from changing them."""

    __tablename__ = "volunteer_consensus"

    observation_id: uuid.UUID = Field(
        foreign_key="observations.id", primary_key=True, ondelete="CASCADE"
    )
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    consensus_id: str = Field(max_length=200, index=True)
    version: int
    subject_id: str = Field(max_length=200)
    workflow_id: str = Field(default="", max_length=200)
    subject_set_id: str = Field(default="", max_length=200)
    platform: str = Field(default="", max_length=50)
    method: str = Field(default="", max_length=30)
    # The label's own votes and agreement; the subject's classifications, evenness and blanks.
    votes: int = 0
    agreement: float = 0.0
    classification_count: int = 0
    pielou_evenness: float = 0.0
    fraction_blank: float = 0.0
    boxes: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    retirement_reason: str = Field(default="", max_length=30)
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
