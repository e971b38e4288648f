"""Volunteers' skill as Dawid-Skene estimates it over a project's built-in classifications,
with the gold standard (subjects an expert judged) held at the expert's answer.

Each classification is one answer: the set of species it names, or "nothing here" (the
empty set). The answers, volunteers and subjects are numbered in sorted order, so that the
same classifications give the same numbers whatever order they were read in; a tie between
answers goes to the first in that order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wildlens.citsci.aggregation import dawid_skene
from wildlens.citsci.models import VolunteerClassification, VolunteerSubject
from wildlens.citsci.volunteers.consensus import names_of

__all__ = ["Answer", "SkillModel", "answer_of", "estimate_skill"]

# An answer: the species named, sorted (empty: nothing here).
Answer = tuple[str, ...]


def answer_of(c: VolunteerClassification) -> Answer:
    return tuple(sorted(set(names_of(c))))


def expert_answer(s: VolunteerSubject) -> Answer:
    return tuple(sorted({n for n in s.expert_names if n}))


@dataclass(frozen=True)
class SkillModel:
    # Each subject's most probable answer and its posterior probability.
    chosen: dict[uuid.UUID, tuple[Answer, float]]
    # Each volunteer's expected accuracy, sum over answers of prior * P(right | answer).
    skill: dict[str, float]


def estimate_skill(
    rows: Sequence[tuple[VolunteerClassification, VolunteerSubject]],
) -> SkillModel | None:
    """Dawid-Skene over the classifications (each with its subject); None when there are
    none."""
    if not rows:
        return None
    ordered = sorted(rows, key=lambda r: (str(r[1].id), r[0].volunteer))
    answers = sorted({answer_of(c) for c, _ in ordered})
    volunteers = sorted({c.volunteer for c, _ in ordered})
    subjects = sorted({s.id for _, s in ordered}, key=str)
    answer_index = {a: i for i, a in enumerate(answers)}
    volunteer_index = {v: i for i, v in enumerate(volunteers)}
    subject_index = {s: i for i, s in enumerate(subjects)}
    task = np.array([subject_index[s.id] for _, s in ordered], dtype=np.int64)
    worker = np.array([volunteer_index[c.volunteer] for c, _ in ordered], dtype=np.int64)
    label = np.array([answer_index[answer_of(c)] for c, _ in ordered], dtype=np.int64)
    # Gold subjects whose expert answer some volunteer gave (the model knows no other class).
    gold = {
        subject_index[s.id]: answer_index[expert_answer(s)]
        for _, s in ordered
        if s.state == "gold" and expert_answer(s) in answer_index
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
