"""The reports' figures, from the project's built-in subjects and classifications.

Answers are compared as sets of species: a classification agrees with the consensus or the
expert when it names exactly the species they name (case aside), "nothing here" agreeing with
a blank.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import VolunteerClassification, VolunteerSubject
from wildlens.citsci.volunteers import repository
from wildlens.citsci.volunteers.catalogue import expert_verdicts
from wildlens.citsci.volunteers.consensus import names_of
from wildlens.citsci.volunteers.skill import estimate_skill, votes_of

__all__ = [
    "Confusion",
    "SubjectFigures",
    "VolunteerFigures",
    "expert_agreement",
    "subject_figures",
    "volunteer_figures",
]

Answer = tuple[str, ...]


def _answer(names: Sequence[str]) -> Answer:
    return tuple(sorted({n.casefold() for n in names if n}))


@dataclass(frozen=True)
class SubjectFigures:
    subject: VolunteerSubject
    classifications: int
    votes: dict[str, int]
    nothing_here: int
    agreement: float | None
    evenness: float


def pielou(votes: Sequence[int]) -> float:
    """H' / ln S over the species named; 0 for one species or none."""
    total = sum(votes)
    if len(votes) < 2 or total == 0:
        return 0.0
    shannon = -sum(v / total * math.log(v / total) for v in votes if v)
    return shannon / math.log(len(votes))


async def subject_figures(
    session: AsyncSession,
    project_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[SubjectFigures]:
    """The project's built-in subjects, oldest first (``limit`` of them after ``after``, the
    time and id of the last one of the page before), with their votes."""
    if limit is None:
        subjects = await repository.project_subjects(session, project_id)
    else:
        subjects = await repository.subjects_page(session, project_id, after, limit)
    by_subject: dict[uuid.UUID, list[VolunteerClassification]] = {}
    for c in await repository.classifications_of_subjects(session, [s.id for s in subjects]):
        by_subject.setdefault(c.subject_id, []).append(c)
    figures = []
    for s in subjects:
        rows = sorted(by_subject.get(s.id, []), key=lambda c: c.volunteer)
        votes = Counter(n for c in rows for n in set(names_of(c)))
        answers = Counter(_answer(names_of(c)) for c in rows)
        figures.append(
            SubjectFigures(
                subject=s,
                classifications=len(rows),
                votes=dict(sorted(votes.items())),
                nothing_here=sum(c.nothing_here for c in rows),
                agreement=max(answers.values()) / len(rows) if rows else None,
                evenness=pielou(list(votes.values())),
            )
        )
    return figures


@dataclass(frozen=True)
class VolunteerFigures:
    volunteer: str
    classifications: int
    gold_classified: int
    gold_correct: int
    skill: float
    retired_classified: int
    agreed: int


async def volunteer_figures(session: AsyncSession, project_id: uuid.UUID) -> list[VolunteerFigures]:
    """Every volunteer who classified in the project, by name."""
    rows = await repository.project_classifications(session, project_id)
    model = estimate_skill(votes_of(rows))
    mine: dict[str, list[tuple[VolunteerClassification, VolunteerSubject]]] = {}
    for c, s in rows:
        mine.setdefault(c.volunteer, []).append((c, s))
    figures = []
    for volunteer, theirs in sorted(mine.items()):
        gold = [(c, s) for c, s in theirs if s.state == "gold"]
        retired = [(c, s) for c, s in theirs if s.state == "retired"]
        figures.append(
            VolunteerFigures(
                volunteer=volunteer,
                classifications=len(theirs),
                gold_classified=len(gold),
                gold_correct=sum(_answer(names_of(c)) == _answer(s.expert_names) for c, s in gold),
                skill=model.skill[volunteer] if model is not None else 0.0,
                retired_classified=len(retired),
                agreed=sum(_answer(names_of(c)) == _answer(s.consensus_names) for c, s in retired),
            )
        )
    return figures


@dataclass(frozen=True)
class Confusion:
    compared: int
    agreed: int
    # (what the expert said, what the volunteers' consensus said, of how many subjects),
    # the species as first written, sorted; each cell's key (the names casefolded), which
    # orders them.
    cells: list[tuple[Answer, Answer, int]]
    keys: list[tuple[Answer, Answer]]


async def expert_agreement(
    session: AsyncSession,
    client: Callable[[], httpx.AsyncClient],
    project_id: uuid.UUID,
) -> Confusion:
    """The retired subjects' consensus against what an expert said of their media, where an
    expert judged every medium of the subject (asked of the catalogue now)."""
    retired = [
        s for s in await repository.project_subjects(session, project_id) if s.state == "retired"
    ]
    verdicts: Mapping[str, tuple[str, ...] | None] = await expert_verdicts(
        client, sorted({m for s in retired for m in s.media_ids})
    )
    cells: Counter[tuple[Answer, Answer]] = Counter()
    shown: dict[Answer, Answer] = {}
    for s in retired:
        said = [verdicts.get(m) for m in s.media_ids]
        if any(v is None for v in said):
            continue
        expert = [n for v in said for n in v or ()]
        key = (_answer(expert), _answer(s.consensus_names))
        shown.setdefault(key[0], _written(expert))
        shown.setdefault(key[1], _written(s.consensus_names))
        cells[key] += 1
    return Confusion(
        compared=sum(cells.values()),
        agreed=sum(n for (e, v), n in cells.items() if e == v),
        cells=[(shown[e], shown[v], n) for (e, v), n in sorted(cells.items())],
        keys=sorted(cells),
    )


def _written(names: Sequence[str]) -> Answer:
    return tuple(sorted({n for n in names if n}))
