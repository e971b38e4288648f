"""Retirement rules per workflow, applied one classification at a time as they arrive."""

from __future__ import annotations

import io

import pytest

from tests.citsci.test_plurality import classification
from tests.citsci.test_zooniverse_export import export
from wildlens.citsci.aggregation import (
    Retirement,
    RetirementReason,
    RetirementRules,
    RetirementTracker,
    WorkflowRetirement,
    named_species,
    read_classifications,
)


def feed(
    tracker: RetirementTracker, subject: int, answers: list[set[str]]
) -> list[Retirement | None]:
    return [tracker.observe(subject, a) for a in answers]


def test_the_first_five_saying_nothing_here_retire_the_subject_as_blank() -> None:
    tracker = RetirementTracker()
    outcomes = feed(tracker, 1, [set()] * 5)
    assert outcomes[:4] == [None] * 4
    retirement = outcomes[4]
    assert retirement is not None
    assert retirement.reason == RetirementReason.BLANK
    assert retirement.classifications == 5
    # Nothing counts after retirement.
    assert tracker.observe(1, {"ZEBRA"}) is None
    assert tracker.retired(1) == retirement


def test_one_animal_among_the_first_five_keeps_the_subject_going() -> None:
    tracker = RetirementTracker()
    outcomes = feed(tracker, 2, [set(), {"ZEBRA"}, set(), set(), set(), set()])
    assert outcomes == [None] * 6
    # ... until ten blanks in all: consensus blank.
    outcomes = feed(tracker, 2, [set()] * 5)
    assert outcomes[-1] is not None
    assert outcomes[-1].reason == RetirementReason.CONSENSUS_BLANK
    assert outcomes[-1].classifications == 11


def test_ten_votes_for_one_species_retire_with_that_species() -> None:
    tracker = RetirementTracker()
    answers = [{"ZEBRA"}, {"WILDEBEEST"}] * 9 + [{"ZEBRA", "TOPI"}]
    outcomes = feed(tracker, 3, answers)
    assert outcomes[:-1] == [None] * 18
    retirement = outcomes[-1]
    assert retirement is not None
    assert (retirement.reason, retirement.species, retirement.classifications) == (
        RetirementReason.CONSENSUS,
        "ZEBRA",
        19,
    )


def test_at_most_twenty_five_classifications() -> None:
    tracker = RetirementTracker()
    species = ["ZEBRA", "TOPI", "IMPALA", "BUFFALO", "ELEPHANT", "WARTHOG", "HARTEBEEST"]
    outcomes = feed(tracker, 4, [{species[i % len(species)]} for i in range(25)])
    assert outcomes[:-1] == [None] * 24
    assert outcomes[-1] is not None
    assert outcomes[-1].reason == RetirementReason.CLASSIFICATION_COUNT


def test_each_workflow_has_its_own_rules() -> None:
    retirement = WorkflowRetirement(
        {11: RetirementRules(first_blank=2, agreement=3, max_classifications=4, total_blank=None)}
    )
    text = export(
        classification(10, 1),
        classification(10, 2, ("NTHNGHR", None)),
        classification(11, 1, ("ZEBRA", "1")),
        classification(11, 2, ("ZEBRA", "1")),
        classification(11, 3, ("ZEBRA", "2")),
        {**classification(12, 1), "workflow_id": 99},
        {**classification(12, 2), "workflow_id": 99},
    )
    retired = []
    for c in read_classifications(io.StringIO(text)):
        outcome = retirement.observe(c.workflow_id, c.subject_id, named_species(c))
        if outcome is not None:
            retired.append((c.classification_id, outcome.subject_id, outcome.reason))
    # Workflow 11 retires subject 10 after two blanks and subject 11 at three zebras; workflow
    # 99 keeps Snapshot Serengeti's five.
    assert retired == [
        (1002, 10, RetirementReason.BLANK),
        (1103, 11, RetirementReason.CONSENSUS),
    ]


def test_rules_refuse_nonsense_numbers() -> None:
    with pytest.raises(ValueError, match="first_blank"):
        RetirementRules(first_blank=0)
