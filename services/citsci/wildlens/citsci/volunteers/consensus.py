"""A retired subject's classifications as the ``citsci.consensus`` the catalogue writes back:
Snapshot Serengeti's plurality (species by votes, median count, Pielou evenness, support)
and, where volunteers drew boxes, the median box of each IoU cluster.

The same for both sources: the built-in volunteers' subjects and classifications, and those
pulled from Zooniverse, which are stored in the same shape (``Said``) and named by a
``ConsensusSubject``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from wildlens.citsci.aggregation import (
    Classification,
    CountBuckets,
    DrawingAnswer,
    Rectangle,
    RetirementReason,
    RetirementRules,
    RetirementTracker,
    SurveyAnswer,
    SurveyMark,
    box_consensus,
    plurality_consensus,
    survey_votes,
)
from wildlens.citsci.models import SubjectSet, VolunteerSubject
from wildlens.common.events.v1.citsci_pb2 import CitsciConsensus, ConsensusBox, ConsensusLabel

__all__ = [
    "PLATFORM",
    "REASONS",
    "ConsensusSubject",
    "Said",
    "build_consensus",
    "builtin_subject",
    "consensus_id",
    "names_of",
    "retirement",
    "rules_of",
]

PLATFORM = "wildlens"
TASK, COUNT, BEHAVIOUR, DRAWING = "T0", "HOWMANY", "BEHAVIOUR", "T1"
# Counts are exact numbers here, not Zooniverse's buckets: one bucket per number.
COUNTS = CountBuckets(tuple(str(n) for n in range(1, 1000)))
# The library's reasons as the event names them (Zooniverse's words).
REASONS = {
    RetirementReason.BLANK: "nothing_here",
    RetirementReason.CONSENSUS_BLANK: "nothing_here",
    RetirementReason.CONSENSUS: "consensus",
    RetirementReason.CLASSIFICATION_COUNT: "classification_count",
}


class Said(Protocol):
    """One volunteer's classification as both sources store it (VolunteerClassification,
    ZooniverseClassification): taxa ``[{"scientific_name", "taxon_id", "count",
    "behaviours"}]``, relative boxes ``[{"media_id", "x", "y", "width", "height"}]``."""

    @property
    def volunteer(self) -> str: ...
    @property
    def nothing_here(self) -> bool: ...
    @property
    def taxa(self) -> list[dict[str, Any]]: ...
    @property
    def boxes(self) -> list[dict[str, Any]]: ...
    @property
    def created_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class ConsensusSubject:
    """What a consensus event names of its subject."""

    consensus_id: str
    subject_id: str
    media_ids: list[str]
    project_id: str
    subject_set_id: str
    workflow_id: str
    platform: str


def rules_of(subject_set: SubjectSet) -> RetirementRules:
    """The set's rules, Snapshot Serengeti's where it names none."""
    return RetirementRules(**(subject_set.retirement_rules or {}))


def names_of(c: Said) -> list[str]:
    return [] if c.nothing_here else [str(t["scientific_name"]) for t in c.taxa]


def retirement(rules: RetirementRules, classifications: Sequence[Said]) -> RetirementReason | None:
    """Whether the subject's classifications, in the order they came, retire it."""
    tracker = RetirementTracker(rules)
    for c in classifications:
        retired = tracker.observe(0, names_of(c))
        if retired is not None:
            return retired.reason
    return None


def consensus_id(subject: VolunteerSubject) -> str:
    """Stable per subject: the set is the workflow of built-in subjects."""
    return f"{PLATFORM}:{subject.subject_set_id}:{subject.id}"


def builtin_subject(subject: VolunteerSubject) -> ConsensusSubject:
    return ConsensusSubject(
        consensus_id=consensus_id(subject),
        subject_id=str(subject.id),
        media_ids=list(subject.media_ids),
        project_id=str(subject.project_id),
        subject_set_id=str(subject.subject_set_id),
        workflow_id=str(subject.subject_set_id),
        platform=PLATFORM,
    )


def _as_classification(n: int, c: Said, frames: dict[str, int]) -> Classification:
    marks = tuple(
        SurveyMark(
            str(t["scientific_name"]),
            {
                **({COUNT: str(min(int(t["count"]), 999))} if t.get("count") else {}),
                **({BEHAVIOUR: tuple(t["behaviours"])} if t.get("behaviours") else {}),
            },
        )
        for t in ([] if c.nothing_here else c.taxa)
    )
    rectangles = tuple(
        Rectangle(
            0,
            float(b["x"]),
            float(b["y"]),
            float(b["width"]),
            float(b["height"]),
            frames.get(str(b["media_id"]), 0),
        )
        for b in c.boxes
    )
    return Classification(
        classification_id=n,
        volunteer=c.volunteer,
        user_name=c.volunteer,
        user_id=None,
        workflow_id=0,
        workflow_version="",
        created_at=c.created_at,
        gold_standard=False,
        expert=False,
        subject_ids=(0,),
        annotations=(SurveyAnswer(TASK, marks), DrawingAnswer(DRAWING, rectangles)),
    )


def _label(
    classifications: Sequence[Said],
    name: str,
    votes: int,
    agreement: float,
    count: int | None,
) -> ConsensusLabel:
    voters = [c for c in classifications if name in names_of(c)]
    taxon_ids = Counter(
        str(t["taxon_id"])
        for c in voters
        for t in c.taxa
        if t["scientific_name"] == name and t.get("taxon_id")
    )
    behaviours = Counter(
        b
        for c in voters
        for t in c.taxa
        if t["scientific_name"] == name
        for b in set(t.get("behaviours") or [])
    )
    # The workflow's own choice (Zooniverse's survey choice id) where it had one.
    choices = Counter(
        str(t.get("choice") or name) for c in voters for t in c.taxa if t["scientific_name"] == name
    )
    label = ConsensusLabel(
        scientific_name=name,
        choice=choices.most_common(1)[0][0] if choices else name,
        taxon_id=taxon_ids.most_common(1)[0][0] if taxon_ids else "",
        votes=votes,
        agreement=agreement,
        # What at least half of those who named the species saw it do.
        behaviours=sorted(b for b, n in behaviours.items() if 2 * n >= len(voters)),
    )
    if count is not None:
        label.count = count
    return label


def build_consensus(
    subject: ConsensusSubject,
    classifications: Sequence[Said],
    reason: RetirementReason,
    version: int,
    retired_at: datetime | None = None,
    weighted: tuple[Sequence[str], float] | None = None,
) -> CitsciConsensus:
    """The event for the subject's classifications (each volunteer's once): their plurality,
    or ``weighted``, the species Dawid-Skene chose (none: nothing here) and its posterior
    probability."""
    frames = {m: i for i, m in enumerate(subject.media_ids)}
    rows = [_as_classification(n, c, frames) for n, c in enumerate(classifications)]
    votes = survey_votes(rows, TASK)
    subjects = plurality_consensus(
        votes.first_per_volunteer(), count_question=COUNT, buckets=COUNTS
    ).subjects()
    result = subjects[0] if subjects else None
    total = len(classifications)
    if weighted is None:
        labels = [
            _label(
                classifications,
                species.choice,
                species.votes,
                species.votes / max(total, 1),
                int(species.count_median) if species.count_median is not None else None,
            )
            for species in (result.species if result is not None else ())
        ]
    else:
        # Dawid-Skene's answer: agreement is its posterior probability, and each species'
        # count the median (the upper of two middle values) its voters gave.
        names, probability = weighted
        labels = []
        for name in names:
            voters = [c for c in classifications if name in names_of(c)]
            counts = sorted(
                int(t["count"])
                for c in voters
                for t in c.taxa
                if t["scientific_name"] == name and t.get("count")
            )
            median = counts[len(counts) // 2] if counts else None
            labels.append(_label(classifications, name, len(voters), probability, median))
    boxes = [
        ConsensusBox(
            media_id=subject.media_ids[min(b.frame, len(subject.media_ids) - 1)],
            x=b.x,
            y=b.y,
            width=b.width,
            height=b.height,
            votes=b.volunteers,
        )
        for b in box_consensus(rows, task=DRAWING)
    ]
    event = CitsciConsensus(
        consensus_id=subject.consensus_id,
        version=version,
        subject_id=subject.subject_id,
        media_ids=subject.media_ids,
        project_id=subject.project_id,
        workflow_id=subject.workflow_id,
        platform=subject.platform,
        subject_set_id=subject.subject_set_id,
        labels=labels,
        classification_count=total,
        pielou_evenness=result.pielou_evenness if result is not None else 0.0,
        fraction_blank=sum(c.nothing_here for c in classifications) / max(total, 1),
        boxes=boxes,
        retirement_reason=REASONS[reason],
        method="plurality" if weighted is None else "dawid_skene",
    )
    event.retired_at.FromDatetime(retired_at or datetime.now(UTC))
    return event
