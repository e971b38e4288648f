"""Volunteers' skill as Dawid-Skene estimates it over a project's built-in classifications,
with the gold standard (subjects an expert judged) held at the expert's answer.

Each classification is one answer: the set of species it names, or "nothing here" (the
empty set). The answers, volunteers and subjects are numbered in sorted order, so that the
same classifications give the same numbers whatever order they were read in; a tie between
answers goes to the first in that order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wildlens.citsci.aggregation import dawid_skene
from wildlens.citsci.models import VolunteerClassification, VolunteerSubject

__all__ = ["Answer", "SkillModel", "Vote", "estimate_skill", "vote", "votes_of"]

# An answer: the species named, sorted (empty: nothing here).
Answer = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Vote:
    subject_id: uuid.UUID
    volunteer: str
    answer: Answer
    # The expert's answer where the subject is gold standard, else None.
    gold: Answer | None


def vote(
    subject_id: uuid.UUID,
    volunteer: str,
    nothing_here: bool,
    taxa: Iterable[dict[str, Any]],
    state: str,
    expert_names: Iterable[str],
) -> Vote:
    """One classification's vote, from its columns and its subject's."""
    answer = () if nothing_here else tuple(sorted({str(t["scientific_name"]) for t in taxa}))
    gold = tuple(sorted({n for n in expert_names if n})) if state == "gold" else None
    return Vote(subject_id, volunteer, answer, gold)


def votes_of(rows: Iterable[tuple[VolunteerClassification, VolunteerSubject]]) -> list[Vote]:
    return [
        vote(s.id, c.volunteer, c.nothing_here, c.taxa, s.state, s.expert_names) for c, s in rows
    ]


@dataclass(frozen=True)
class SkillModel:
    # Each subject's most probable answer and its posterior probability.
    chosen: dict[uuid.UUID, tuple[Answer, float]]
    # Each volunteer's expected accuracy, sum over answers of prior * P(right | answer).
    skill: dict[str, float]


def estimate_skill(votes: Sequence[Vote]) -> SkillModel | None:
    """Dawid-Skene over the votes; None when there are none."""
    if not votes:
        return None
    ordered = sorted(votes, key=lambda v: (str(v.subject_id), v.volunteer))
    answers = sorted({v.answer for v in ordered})
    volunteers = sorted({v.volunteer for v in ordered})
    subjects = sorted({v.subject_id for v in ordered}, key=str)
    answer_index = {a: i for i, a in enumerate(answers)}
    volunteer_index = {v: i for i, v in enumerate(volunteers)}
    subject_index = {s: i for i, s in enumerate(subjects)}
    task = np.fromiter((subject_index[v.subject_id] for v in ordered), np.int64, len(ordered))
    worker = np.fromiter((volunteer_index[v.volunteer] for v in ordered), np.int64, len(ordered))
    label = np.fromiter((answer_index[v.answer] for v in ordered), np.int64, len(ordered))
    # Gold subjects whose expert answer some volunteer gave (the model knows no other class).
    gold = {
        subject_index[v.subject_id]: answer_index[v.gold]
        for v in ordered
        if v.gold is not None and v.gold in answer_index
    }
    result = dawid_skene(task, worker, label, gold=gold or None)
    best = np.argmax(result.probabilities, axis=1)
    chosen = {
        subjects[int(t)]: (
            answers[int(result.classes[best[row]])],
            float(result.probabilities[row, best[row]]),
        )
        for row, t in enumerate(result.tasks)
    }
    skill = result.skill(len(volunteers))
    return SkillModel(chosen=chosen, skill={v: float(skill[i]) for i, v in enumerate(volunteers)})
