"""A survey task's votes straight from a classification export, a million rows at a go.

``read_classifications`` gives each row as a full ``Classification``; aggregating an export
needs far less: who, which subject, when, and the survey's marks. This reader keeps to that,
as columns: per row it only splits the CSV line and appends a few strings to lists; each
distinct annotation text is decoded once (most volunteers' JSON repeats another's exactly:
"one zebra, standing"), and the columns become arrays, marks included, in a few vectorised
steps at the end. It checks what it keeps as strictly as ``read_classifications`` does, with
the same errors; the volunteer's IP address is blanked in the row as it is read, as there.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from wildlens.citsci.aggregation.annotations import (
    SurveyAnswer,
    TaskKind,
    distinct_marks,
    parse_annotations,
)
from wildlens.citsci.aggregation.errors import ExportError
from wildlens.citsci.aggregation.survey_votes import (
    DEFAULT_BLANK_CHOICES,
    AnswerColumn,
    SurveyVotes,
)
from wildlens.citsci.aggregation.zooniverse_export import (
    EXPORT_COLUMNS,
    MAX_FIELD,
    check_header,
    parse_integer,
    parse_json,
    parse_timestamp,
)

__all__ = ["read_survey_votes"]

Int = npt.NDArray[np.int64]
# Distinct annotation texts remembered; past this, texts seen again are decoded again (the
# memory stays bounded for exports whose every row differs).
_MEMO_SIZE = 500_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ID, _USER_NAME, _USER_ID, _USER_IP, _WORKFLOW_ID, _CREATED_AT, _GOLD, _ANNOTATIONS, _SUBJECTS = (
    EXPORT_COLUMNS.index(c)
    for c in (
        "classification_id",
        "user_name",
        "user_id",
        "user_ip",
        "workflow_id",
        "created_at",
        "gold_standard",
        "annotations",
        "subject_ids",
    )
)
_TRUE = frozenset({"true", "True", "TRUE", "t", "1", "yes"})


class _Interner(dict[str, int]):
    def __missing__(self, key: str) -> int:
        value = self[key] = len(self)
        return value


class _Annotations:
    """Distinct annotation texts, decoded once each into interned marks."""

    def __init__(self, task: str | None, task_kinds: Mapping[str, TaskKind] | None) -> None:
        self.task, self.task_kinds = task, task_kinds
        self.memo: dict[str, int] = {}
        self.choices = _Interner()
        self.questions = _Interner()
        self.values: list[_Interner] = []
        # Per distinct annotation: its marks' choices, and per question (mark, value) pairs.
        self.mark_choices: list[list[int]] = []
        self.answers: list[list[tuple[int, int, int]]] = []

    def decode(self, text: str, line: int) -> int:
        """The annotation's index, -1 when it has no answer to the survey task."""
        try:
            parsed = parse_annotations(parse_json(text, "annotations", line), self.task_kinds)
        except ExportError as error:
            if error.line is not None:
                raise
            raise ExportError(error.detail, line=line, column="annotations") from None
        survey = next(
            (
                a
                for a in parsed
                if isinstance(a, SurveyAnswer) and (self.task is None or a.task == self.task)
            ),
            None,
        )
        index = -1
        if survey is not None:
            index = len(self.mark_choices)
            choices, answers = [], []
            for m, mark in enumerate(distinct_marks(survey.marks)):
                choices.append(self.choices[mark.choice])
                for question, answer in mark.answers.items():
                    q = self.questions[question]
                    if q == len(self.values):
                        self.values.append(_Interner())
                    values = self.values[q]
                    for value in (answer,) if isinstance(answer, str) else answer:
                        answers.append((q, m, values[value]))
            self.mark_choices.append(choices)
            self.answers.append(answers)
        if len(self.memo) < _MEMO_SIZE:
            self.memo[text] = index
        return index


def _ragged(starts: Int, lengths: Int) -> Int:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


def _integers(texts: list[str], column: str, lines: list[int]) -> Int:
    try:
        values = np.fromiter(map(int, texts), dtype=np.int64, count=len(texts))
    except (ValueError, OverflowError):
        values = None
    if values is None or (values.size and values.min() < 0):
        for text, line in zip(texts, lines, strict=True):
            parse_integer(text, column, line)
        raise AssertionError("unreachable: a bad integer was found above")  # pragma: no cover
    return values


def _times(texts: list[str], lines: list[int]) -> Int:
    """µs since 1970 of Zooniverse's "2026-05-01 10:11:12 UTC" (others parsed one by one)."""
    if all(len(t) == 23 and t.endswith(" UTC") for t in texts):
        try:
            stamps = np.array([t[:19] for t in texts], dtype="datetime64[us]")
            return stamps.astype(np.int64)
        except ValueError:
            pass
    one = timedelta(microseconds=1)
    return np.fromiter(
        ((parse_timestamp(t, line) - _EPOCH) // one for t, line in zip(texts, lines, strict=True)),
        dtype=np.int64,
        count=len(texts),
    )


def read_survey_votes(
    lines: Iterable[str],
    *,
    workflow_id: int | None = None,
    task: str | None = None,
    task_kinds: Mapping[str, TaskKind] | None = None,
    blank_choices: Iterable[str] = DEFAULT_BLANK_CHOICES,
) -> SurveyVotes:
    """The survey task's votes of every classification in the export (all of them: call
    ``first_per_volunteer`` to count each volunteer once per subject).

    Raises:
        ExportError: at the first malformed row, naming its line and column.
    """
    annotations = _Annotations(task, task_kinds)
    memo, decode = annotations.memo, annotations.decode
    ids: list[str] = []
    users: list[str] = []
    subjects: list[str] = []
    created: list[str] = []
    gold: list[bool] = []
    kinds: list[int] = []
    row_lines: list[int] = []
    workflow_text = str(workflow_id) if workflow_id is not None else None
    width = len(EXPORT_COLUMNS)
    reader = csv.reader(lines, strict=True)
    previous_limit = csv.field_size_limit(MAX_FIELD)
    try:
        check_header(next(reader, None))
        for row in reader:
            if len(row) != width:
                if not row:
                    continue
                raise ExportError(
                    f"{len(row)} fields where the header has {width}", line=reader.line_num
                )
            # The volunteer's IP address goes no further than the csv module's list.
            row[_USER_IP] = ""
            if workflow_text is not None and row[_WORKFLOW_ID] != workflow_text:
                if row[_WORKFLOW_ID].strip() != workflow_text:
                    parse_integer(row[_WORKFLOW_ID], "workflow_id", reader.line_num)
                    continue
            text = row[_ANNOTATIONS]
            kind = memo.get(text)
            if kind is None:
                kind = decode(text, reader.line_num)
            if kind < 0:
                continue
            kinds.append(kind)
            ids.append(row[_ID])
            users.append(row[_USER_ID] or "~" + row[_USER_NAME])
            subjects.append(row[_SUBJECTS])
            created.append(row[_CREATED_AT])
            gold.append(row[_GOLD] in _TRUE)
            row_lines.append(reader.line_num)
    except csv.Error as error:
        raise ExportError(f"not readable as CSV ({error})", line=reader.line_num) from None
    except UnicodeDecodeError:
        raise ExportError("not UTF-8 text", line=reader.line_num + 1) from None
    finally:
        csv.field_size_limit(previous_limit)
    return _votes(
        annotations, task, blank_choices, ids, users, subjects, created, gold, kinds, row_lines
    )


def _volunteers(users: list[str], lines: list[int]) -> tuple[Int, tuple[str, ...]]:
    interner = _Interner()
    index = np.fromiter(map(interner.__getitem__, users), dtype=np.int64, count=len(users))
    names = []
    for user in interner:
        if user.startswith("~"):
            if user == "~":
                line = lines[int(np.flatnonzero(index == interner[user])[0])]
                raise ExportError("neither user_id nor user_name", line=line)
            names.append(user[1:])
        else:
            if not user.isdigit():
                line = lines[int(np.flatnonzero(index == interner[user])[0])]
                parse_integer(user, "user_id", line)
            names.append("user:" + user)
    return index, tuple(names)


def _subjects(texts: list[str], lines: list[int]) -> Int:
    # A classification of several subjects at once counts for the first.
    firsts = [t.split(";", 1)[0] if ";" in t else t for t in texts]
    return _integers(firsts, "subject_ids", lines)


def _votes(
    annotations: _Annotations,
    task: str | None,
    blank_choices: Iterable[str],
    ids: list[str],
    users: list[str],
    subjects: list[str],
    created: list[str],
    gold: list[bool],
    kinds: list[int],
    lines: list[int],
) -> SurveyVotes:
    n = len(ids)
    kind = np.array(kinds, dtype=np.int64)
    subject_ids, subject = np.unique(_subjects(subjects, lines), return_inverse=True)
    volunteer, volunteers = _volunteers(users, lines)

    # Marks: each row takes the marks of its distinct annotation.
    marks_per_kind = np.array([len(c) for c in annotations.mark_choices], dtype=np.int64)
    kind_first_mark = np.cumsum(marks_per_kind) - marks_per_kind
    flat_choice = np.array(
        [c for choices in annotations.mark_choices for c in choices], dtype=np.int64
    )
    row_marks = marks_per_kind[kind] if n else np.zeros(0, dtype=np.int64)
    row_first_mark = np.cumsum(row_marks) - row_marks
    mark_classification = np.repeat(np.arange(n, dtype=np.int64), row_marks)
    mark_choice = flat_choice[_ragged(kind_first_mark[kind], row_marks)] if n else row_marks

    answers = {}
    for question, q in annotations.questions.items():
        entries = [
            (k, m, v)
            for k, found in enumerate(annotations.answers)
            for qq, m, v in found
            if qq == q
        ]
        table = np.array(entries, dtype=np.int64).reshape(-1, 3)
        per_kind = np.bincount(table[:, 0], minlength=len(annotations.answers)).astype(np.int64)
        kind_first = np.cumsum(per_kind) - per_kind
        row_count = per_kind[kind]
        picked = _ragged(kind_first[kind], row_count)
        mark = np.repeat(row_first_mark, row_count) + table[picked, 1]
        values = tuple(annotations.values[q])
        answers[question] = AnswerColumn(values, mark, table[picked, 2])

    return SurveyVotes(
        task=task,
        subject_ids=subject_ids.astype(np.int64),
        volunteers=volunteers,
        choices=tuple(annotations.choices),
        blank_choices=frozenset(blank_choices),
        subject=subject.astype(np.int64),
        volunteer=volunteer,
        created_at=_times(created, lines),
        classification_id=_integers(ids, "classification_id", lines),
        gold=np.array(gold, dtype=bool),
        mark_classification=mark_classification,
        mark_choice=mark_choice,
        answers=answers,
    )
