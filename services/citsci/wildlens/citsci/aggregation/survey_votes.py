"""A survey task's votes as columns: who classified which subject, and what they marked.

Consensus over a million classifications is array arithmetic, not a loop over dictionaries:
the builder interns subjects, volunteers, choices and answers into small integers as the
classifications stream past, and everything downstream (tallies, plurality, Dawid-Skene)
works on the resulting ``numpy`` arrays.

Per classification: ``subject``, ``volunteer``, ``created_at`` (µs since the epoch),
``classification_id``, ``gold``. Per mark (one species marked in one classification):
``mark_classification`` and ``mark_choice``. Per question asked about a mark: parallel arrays
of the mark and the answer (a multiple-answer question gives one entry per answer ticked).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from wildlens.citsci.aggregation.annotations import SurveyAnswer, distinct_marks
from wildlens.citsci.aggregation.zooniverse_export import Classification

__all__ = [
    "DEFAULT_BLANK_CHOICES",
    "AnswerColumn",
    "EncodedMarks",
    "SurveyVotes",
    "SurveyVotesBuilder",
    "named_species",
    "survey_of",
    "survey_votes",
]

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The survey choice Zooniverse's project builder names "Nothing here", and Snapshot Serengeti's.
DEFAULT_BLANK_CHOICES = ("NTHNGHR", "NOTHINGHERE")


def survey_of(classification: Classification, task: str | None) -> SurveyAnswer | None:
    for annotation in classification.annotations:
        if isinstance(annotation, SurveyAnswer) and (task is None or annotation.task == task):
            return annotation
    return None


def named_species(
    classification: Classification,
    task: str | None = None,
    blank_choices: Iterable[str] = DEFAULT_BLANK_CHOICES,
) -> frozenset[str]:
    """The species the classification's survey named; empty for "nothing here"."""
    survey = survey_of(classification, task)
    if survey is None:
        return frozenset()
    blank = frozenset(blank_choices)
    return frozenset(m.choice for m in survey.marks if m.choice not in blank)


@dataclass(frozen=True)
class AnswerColumn:
    """One question's answers over all marks: ``values[answer[i]]`` given on ``mark[i]``."""

    values: tuple[str, ...]
    mark: Int
    answer: Int


@dataclass(frozen=True)
class SurveyVotes:
    task: str | None
    subject_ids: Int
    volunteers: tuple[str, ...]
    choices: tuple[str, ...]
    blank_choices: frozenset[str]
    subject: Int
    volunteer: Int
    created_at: Int
    classification_id: Int
    gold: Bool
    mark_classification: Int
    mark_choice: Int
    answers: dict[str, AnswerColumn] = field(default_factory=dict)

    @property
    def n_classifications(self) -> int:
        return int(self.subject.size)

    @property
    def n_subjects(self) -> int:
        return int(self.subject_ids.size)

    def blank_choice_mask(self) -> Bool:
        """Which choice indexes mean "nothing here"."""
        return np.array([c in self.blank_choices for c in self.choices], dtype=bool)

    def first_per_volunteer(self) -> SurveyVotes:
        """Each volunteer's earliest classification of each subject, the others dropped.

        A volunteer who sees a subject twice (a reload, a second session) would otherwise
        vote twice; Snapshot Serengeti and panoptes-aggregation both count the first.
        """
        n = self.n_classifications
        if n == 0:
            return self
        order = np.lexsort((self.classification_id, self.created_at, self.volunteer, self.subject))
        subject, volunteer = self.subject[order], self.volunteer[order]
        first = np.ones(n, dtype=bool)
        first[1:] = (subject[1:] != subject[:-1]) | (volunteer[1:] != volunteer[:-1])
        keep = np.zeros(n, dtype=bool)
        keep[order[first]] = True
        if keep.all():
            return self
        return self.select(keep)

    def select(self, keep: Bool) -> SurveyVotes:
        """The votes of the classifications where ``keep`` is true (subjects and names kept)."""
        new_index = np.cumsum(keep) - 1
        mark_keep = keep[self.mark_classification]
        mark_index = np.cumsum(mark_keep) - 1
        answers = {}
        for question, column in self.answers.items():
            kept = mark_keep[column.mark]
            answers[question] = AnswerColumn(
                column.values, mark_index[column.mark[kept]], column.answer[kept]
            )
        return SurveyVotes(
            task=self.task,
            subject_ids=self.subject_ids,
            volunteers=self.volunteers,
            choices=self.choices,
            blank_choices=self.blank_choices,
            subject=self.subject[keep],
            volunteer=self.volunteer[keep],
            created_at=self.created_at[keep],
            classification_id=self.classification_id[keep],
            gold=self.gold[keep],
            mark_classification=new_index[self.mark_classification[mark_keep]],
            mark_choice=self.mark_choice[mark_keep],
            answers=answers,
        )


class _Interner:
    __slots__ = ("index", "values")

    def __init__(self) -> None:
        self.index: dict[object, int] = {}
        self.values: list[object] = []

    def __call__(self, value: object) -> int:
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(value)
        return found


class _AnswerBuilder:
    __slots__ = ("answer", "mark", "values")

    def __init__(self) -> None:
        self.values = _Interner()
        self.mark: list[int] = []
        self.answer: list[int] = []


# A survey's marks with every name already interned: per mark, the choice's index and, per
# answer given, the question's column and the answer's index in it.
EncodedMarks = tuple[tuple[int, tuple[tuple[_AnswerBuilder, int], ...]], ...]


class SurveyVotesBuilder:
    """Collects one survey task's votes as classifications arrive.

    Args:
        task: the survey task's key (``"T0"``); ``None`` takes each classification's first
            survey annotation.
        blank_choices: the choices that mean "nothing here" (a survey with no marks is blank
            too).
    """

    def __init__(
        self, task: str | None = None, *, blank_choices: Iterable[str] = DEFAULT_BLANK_CHOICES
    ) -> None:
        self.task = task
        self.blank_choices = frozenset(blank_choices)
        self._subjects = _Interner()
        self._volunteers = _Interner()
        self._choices = _Interner()
        self._answers: dict[str, _AnswerBuilder] = {}
        self._subject: list[int] = []
        self._volunteer: list[int] = []
        self._created: list[int] = []
        self._id: list[int] = []
        self._gold: list[bool] = []
        self._mark_classification: list[int] = []
        self._mark_choice: list[int] = []

    def encode(self, survey: SurveyAnswer) -> EncodedMarks:
        """The survey's marks with their names interned (see ``add_encoded``)."""
        marks = []
        for mark in distinct_marks(survey.marks):
            answers = []
            for question, answer in mark.answers.items():
                column = self._answers.get(question)
                if column is None:
                    column = self._answers[question] = _AnswerBuilder()
                if isinstance(answer, str):
                    answers.append((column, column.values(answer)))
                else:
                    answers.extend((column, column.values(value)) for value in answer)
            marks.append((self._choices(mark.choice), tuple(answers)))
        return tuple(marks)

    def add_encoded(
        self,
        subject_id: int,
        volunteer: str,
        created_at_us: int,
        classification_id: int,
        gold: bool,
        marks: EncodedMarks,
    ) -> None:
        """One classification whose marks ``encode`` made; ``created_at_us`` in µs since 1970.

        A caller that sees the same survey answer many times (a live stream of Wildlens'
        own classifications, say) can encode it once and add it as often as it comes.
        """
        row = len(self._subject)
        self._subject.append(self._subjects(subject_id))
        self._volunteer.append(self._volunteers(volunteer))
        self._created.append(created_at_us)
        self._id.append(classification_id)
        self._gold.append(gold)
        mark_classification, mark_choice = self._mark_classification, self._mark_choice
        for choice, answers in marks:
            mark_row = len(mark_choice)
            mark_classification.append(row)
            mark_choice.append(choice)
            for column, value in answers:
                column.mark.append(mark_row)
                column.answer.append(value)

    def add(self, classification: Classification) -> bool:
        """Takes the classification's survey answer; false when it has none for this task."""
        survey = survey_of(classification, self.task)
        if survey is None:
            return False
        delta = classification.created_at - _EPOCH
        self.add_encoded(
            classification.subject_ids[0],
            classification.volunteer,
            (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds,
            classification.classification_id,
            classification.gold_standard,
            self.encode(survey),
        )
        return True

    def build(self) -> SurveyVotes:
        def ints(values: list[int]) -> Int:
            return np.array(values, dtype=np.int64)

        return SurveyVotes(
            task=self.task,
            subject_ids=np.array(self._subjects.values, dtype=np.int64),
            volunteers=tuple(str(v) for v in self._volunteers.values),
            choices=tuple(str(c) for c in self._choices.values),
            blank_choices=self.blank_choices,
            subject=ints(self._subject),
            volunteer=ints(self._volunteer),
            created_at=ints(self._created),
            classification_id=ints(self._id),
            gold=np.array(self._gold, dtype=bool),
            mark_classification=ints(self._mark_classification),
            mark_choice=ints(self._mark_choice),
            answers={
                question: AnswerColumn(
                    tuple(str(v) for v in column.values.values),
                    ints(column.mark),
                    ints(column.answer),
                )
                for question, column in self._answers.items()
            },
        )


def survey_votes(
    classifications: Iterable[Classification],
    task: str | None = None,
    *,
    blank_choices: Iterable[str] = DEFAULT_BLANK_CHOICES,
) -> SurveyVotes:
    """The survey task's votes of all the classifications (see ``SurveyVotesBuilder``)."""
    builder = SurveyVotesBuilder(task, blank_choices=blank_choices)
    for classification in classifications:
        builder.add(classification)
    return builder.build()
