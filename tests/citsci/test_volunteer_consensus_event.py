"""The consensus a retired built-in subject publishes, from its volunteers' classifications:
the set's retirement rules, plurality with the median count, the behaviours most of a
species' voters saw, boxes drawn on each frame as the median of their cluster, and blanks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wildlens.citsci.aggregation import RetirementReason, RetirementRules
from wildlens.citsci.models import SubjectSet, VolunteerClassification, VolunteerSubject
from wildlens.citsci.volunteers.consensus import (
    build_consensus,
    builtin_subject,
    consensus_id,
    retirement,
    rules_of,
)

FRAMES = [str(uuid.uuid4()), str(uuid.uuid4())]
HERON, EGRET = "Ardea cinerea", "Ardea alba"
START = datetime(2026, 5, 1, 8, tzinfo=UTC)


def _subject() -> VolunteerSubject:
    return VolunteerSubject(
        subject_set_id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        media_ids=FRAMES,
        sha256s=["a" * 64, "b" * 64],
        created_by="manager",
    )


def _said(n: int, *taxa: dict[str, Any], boxes: list[dict[str, Any]] | None = None) -> Any:
    return VolunteerClassification(
        subject_id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        volunteer=f"volunteer-{n}",
        nothing_here=not taxa,
        taxa=list(taxa),
        boxes=boxes or [],
        created_at=START + timedelta(minutes=n),
    )


def _box(frame: int, x: float) -> dict[str, Any]:
    return {"media_id": FRAMES[frame], "x": x, "y": 0.2, "width": 0.3, "height": 0.4}


def test_a_set_without_rules_retires_as_snapshot_serengeti_did() -> None:
    s = SubjectSet(project_id=uuid.uuid4(), name="Pond", created_by="manager")
    assert rules_of(s) == RetirementRules()
    s.retirement_rules = {"first_blank": 2, "total_blank": None, "agreement": 3}
    rules = rules_of(s)
    assert retirement(rules, [_said(0), _said(1)]) == RetirementReason.BLANK
    heron = {"scientific_name": HERON}
    assert retirement(rules, [_said(0, heron), _said(1), _said(2, heron)]) is None
    agreed = [_said(0, heron), _said(1), _said(2, heron), _said(3, heron)]
    assert retirement(rules, agreed) == RetirementReason.CONSENSUS


def test_the_consensus_counts_votes_counts_behaviours_and_boxes_per_frame() -> None:
    subject = _subject()
    said = [
        _said(
            0,
            {"scientific_name": HERON, "count": 1, "behaviours": ["foraging"]},
            boxes=[_box(0, 0.10), _box(1, 0.50)],
        ),
        _said(
            1,
            {"scientific_name": HERON, "count": 3, "behaviours": ["foraging", "flying"]},
            boxes=[_box(0, 0.12)],
        ),
        _said(
            2,
            {"scientific_name": HERON, "count": 2},
            {"scientific_name": EGRET},
            boxes=[_box(0, 0.14)],
        ),
        _said(3),
    ]
    event = build_consensus(builtin_subject(subject), said, RetirementReason.CONSENSUS, 2, START)
    assert (
        event.consensus_id
        == consensus_id(subject)
        == f"wildlens:{subject.subject_set_id}:{subject.id}"
    )
    assert (event.version, event.platform, event.method) == (2, "wildlens", "plurality")
    assert list(event.media_ids) == FRAMES
    assert (event.classification_count, event.fraction_blank) == (4, 0.25)
    assert event.retirement_reason == "consensus"
    # Most named one species: the heron alone, by 3 of 4, its median count 2.
    (label,) = event.labels
    assert (label.scientific_name, label.votes, label.agreement, label.count) == (HERON, 3, 0.75, 2)
    assert list(label.behaviours) == ["foraging"]
    assert event.pielou_evenness == pytest.approx(0.811, abs=1e-3)
    boxes = sorted((b.media_id, round(b.x, 3), b.votes) for b in event.boxes)
    assert boxes == sorted([(FRAMES[0], 0.12, 3), (FRAMES[1], 0.5, 1)])


def test_a_blank_subject_retires_with_no_label() -> None:
    event = build_consensus(
        builtin_subject(_subject()), [_said(0), _said(1)], RetirementReason.BLANK, 1, START
    )
    assert list(event.labels) == []
    assert (event.fraction_blank, event.retirement_reason) == (1.0, "nothing_here")
