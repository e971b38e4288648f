"""Dawid-Skene over a project's built-in classifications: the same answers give the same
consensus and skill whatever order they are read in, a tie goes to the first answer in sorted
order, the gold standard holds the expert's answer, and the consensus event says which
method chose it with the posterior as its agreement."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest

from wildlens.citsci.aggregation import RetirementReason, dawid_skene
from wildlens.citsci.models import VolunteerClassification, VolunteerSubject
from wildlens.citsci.volunteers.consensus import build_consensus, builtin_subject
from wildlens.citsci.volunteers.skill import estimate_skill, votes_of

HERON, MALLARD = "Ardea cinerea", "Anas platyrhynchos"
Rows = list[tuple[VolunteerClassification, VolunteerSubject]]


def _subject(state: str = "active", expert: list[str] | None = None) -> VolunteerSubject:
    return VolunteerSubject(
        id=uuid.uuid4(),
        subject_set_id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        media_ids=[str(uuid.uuid4())],
        sha256s=["a" * 64],
        state=state,
        expert_names=expert or [],
        created_by="manager",
    )


def _rows(answers: dict[str, dict[str, str | None]], subjects: dict[str, VolunteerSubject]) -> Rows:
    return [
        (
            VolunteerClassification(
                subject_id=subjects[s].id,
                project_id=subjects[s].project_id,
                volunteer=v,
                nothing_here=name is None,
                taxa=[] if name is None else [{"scientific_name": name, "count": 2}],
            ),
            subjects[s],
        )
        for s, said in answers.items()
        for v, name in said.items()
    ]


def test_the_order_the_classifications_come_in_changes_nothing() -> None:
    rng = random.Random(7)
    names = [HERON, MALLARD, None]
    subjects = {f"s{i}": _subject() for i in range(30)}
    subjects["g"] = _subject("gold", [HERON])
    answers = {
        s: {f"v{v}": rng.choice(names) for v in range(6) if rng.random() < 0.8} for s in subjects
    }
    rows = _rows(answers, subjects)
    first = estimate_skill(votes_of(rows))
    assert first is not None
    for _ in range(3):
        rng.shuffle(rows)
        again = estimate_skill(votes_of(rows))
        assert again == first
    # The gold standard keeps the expert's answer whatever volunteers said.
    assert first.chosen[subjects["g"].id] == ((HERON,), 1.0)


def test_skill_is_crowd_kits_on_the_same_votes_and_a_tie_goes_to_the_first_answer() -> None:
    subjects = {"tie": _subject()}
    rows = _rows({"tie": {"a": HERON, "b": MALLARD}}, subjects)
    model = estimate_skill(votes_of(rows))
    assert model is not None
    # Answers sorted: ("Anas platyrhynchos",) before ("Ardea cinerea",).
    chosen, probability = model.chosen[subjects["tie"].id]
    assert chosen == (MALLARD,)
    assert probability == pytest.approx(0.5)
    direct = dawid_skene(np.array([0, 0]), np.array([0, 1]), np.array([1, 0]))
    assert [model.skill["a"], model.skill["b"]] == pytest.approx(list(direct.skill(2)))
    assert estimate_skill([]) is None


def test_the_event_names_dawid_skene_and_its_posterior() -> None:
    stored = _subject()
    rows = _rows({"s": {"a": HERON, "b": MALLARD, "c": MALLARD}}, {"s": stored})
    subject = builtin_subject(stored)
    event = build_consensus(
        subject,
        [c for c, _ in rows],
        RetirementReason.CLASSIFICATION_COUNT,
        1,
        weighted=((HERON,), 0.9),
    )
    assert event.method == "dawid_skene"
    ((label),) = event.labels
    assert (label.scientific_name, label.votes, label.count) == (HERON, 1, 2)
    assert label.agreement == pytest.approx(0.9)
    plain = build_consensus(subject, [c for c, _ in rows], RetirementReason.CLASSIFICATION_COUNT, 1)
    assert (plain.method, [x.scientific_name for x in plain.labels]) == ("plurality", [MALLARD])
    blank = build_consensus(
        subject, [c for c, _ in rows], RetirementReason.CLASSIFICATION_COUNT, 1, weighted=((), 0.6)
    )
    assert list(blank.labels) == []
