"""How many marks each choice got on each subject, and how its questions were answered.

This is what panoptes-aggregation's survey extractor and reducer give per subject
(``choice_count`` and the ``answers_<question>`` counters), computed over whole arrays with one
``np.unique`` per table instead of a pandas selection per subject. Counted per mark, as they
are: a volunteer who marks zebra twice in one classification gives zebra two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wildlens.citsci.aggregation.survey_votes import SurveyVotes

__all__ = ["AnswerTally", "SurveyTallies", "tally_survey"]

Int = npt.NDArray[np.int64]


@dataclass(frozen=True)
class AnswerTally:
    """Rows of (subject index, choice index, answer index, count) for one question."""

    values: tuple[str, ...]
    subject: Int
    choice: Int
    answer: Int
    count: Int


@dataclass(frozen=True)
class SurveyTallies:
    votes: SurveyVotes
    marks: Int
    """Marks per subject (panoptes-aggregation's ``total_vote_count``)."""
    subject: Int
    choice: Int
    count: Int
    """Rows of (subject index, choice index, marks of that choice)."""
    answers: dict[str, AnswerTally]

    def as_dict(self) -> dict[int, dict[str, dict[str, object]]]:
        """``{subject id: {choice: {"choice_count": n, question: {answer: n}}}}``."""
        ids, choices = self.votes.subject_ids, self.votes.choices
        result: dict[int, dict[str, dict[str, object]]] = {}
        for s, c, n in zip(
            self.subject.tolist(), self.choice.tolist(), self.count.tolist(), strict=True
        ):
            result.setdefault(int(ids[s]), {})[choices[c]] = {"choice_count": n}
        for question, tally in self.answers.items():
            for s, c, a, n in zip(
                tally.subject.tolist(),
                tally.choice.tolist(),
                tally.answer.tolist(),
                tally.count.tolist(),
                strict=True,
            ):
                entry = result[int(ids[s])][choices[c]]
                counter = entry.setdefault(question, {})
                assert isinstance(counter, dict)
                counter[tally.values[a]] = n
        return result


def _unique_rows(*columns: Int, sizes: tuple[int, ...]) -> tuple[list[Int], Int]:
    """The distinct rows of the columns and how often each occurs, via one combined key."""
    key = np.zeros(columns[0].size, dtype=np.int64)
    for column, size in zip(columns, sizes, strict=True):
        key = key * size + column
    unique, counts = np.unique(key, return_counts=True)
    rows = []
    for size in reversed(sizes):
        rows.append(unique % size)
        unique = unique // size
    return rows[::-1], counts.astype(np.int64)


def tally_survey(votes: SurveyVotes) -> SurveyTallies:
    """The per-subject choice and answer counts of the votes as given (deduplicate first)."""
    n_subjects, n_choices = votes.n_subjects, max(len(votes.choices), 1)
    mark_subject = votes.subject[votes.mark_classification]
    (subject, choice), count = _unique_rows(
        mark_subject, votes.mark_choice, sizes=(n_subjects, n_choices)
    )
    answers = {}
    for question, column in votes.answers.items():
        (a_subject, a_choice, a_answer), a_count = _unique_rows(
            mark_subject[column.mark],
            votes.mark_choice[column.mark],
            column.answer,
            sizes=(n_subjects, n_choices, max(len(column.values), 1)),
        )
        answers[question] = AnswerTally(column.values, a_subject, a_choice, a_answer, a_count)
    marks = np.bincount(mark_subject, minlength=n_subjects).astype(np.int64)
    return SurveyTallies(votes, marks, subject, choice, count, answers)
