"""A volunteer's answers to a workflow's tasks, as Zooniverse's annotations JSON holds them.

Three task kinds matter for camera traps:

* survey: ``{"task": "T0", "value": [{"choice": "ZEBRA", "answers": {"HOWMANY": "2",
  "BEHAVIOR": ["EATING"]}, "filters": {...}}]}``, one mark per species seen;
* question: ``{"task": "T1", "value": 0}`` (single answer, the answer's index) or
  ``{"task": "T1", "value": [0, 2]}`` (multiple answers);
* drawing with rectangles: ``{"task": "T2", "value": [{"tool": 0, "x": 10.5, "y": 4,
  "width": 30, "height": 20, "frame": 0}]}``.

Parsing checks the shapes and sizes, so that hostile JSON becomes a clear ``ExportError`` and
never a ``KeyError`` deep in the consensus.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from wildlens.citsci.aggregation.errors import ExportError

__all__ = [
    "MAX_MARKS",
    "Annotation",
    "DrawingAnswer",
    "QuestionAnswer",
    "Rectangle",
    "SurveyAnswer",
    "SurveyMark",
    "TaskKind",
    "distinct_marks",
    "parse_annotations",
]

TaskKind = Literal["survey", "question", "drawing"]

# More marks than any camera-trap image has species or boxes: a file with more was not made by
# Zooniverse's classifier, and holding it would only cost memory.
MAX_MARKS = 500
MAX_TASKS = 100
MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class SurveyMark:
    """One species a volunteer marked, with the answers to its questions.

    ``answers`` maps a question to its answer: a string for a single-answer question (the
    count bucket, say), a tuple of strings for a multiple-answer one (behaviours).
    """

    choice: str
    answers: Mapping[str, str | tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    task: str
    marks: tuple[SurveyMark, ...]


@dataclass(frozen=True, slots=True)
class QuestionAnswer:
    """A question task's answer: the chosen answers' indexes (or labels), empty for none."""

    task: str
    answers: tuple[int | str, ...]
    multiple: bool


@dataclass(frozen=True, slots=True)
class Rectangle:
    """A drawn box in the subject's pixels, top-left origin; ``tool`` is the tool's index."""

    tool: int
    x: float
    y: float
    width: float
    height: float
    frame: int = 0


@dataclass(frozen=True, slots=True)
class DrawingAnswer:
    task: str
    rectangles: tuple[Rectangle, ...]


Annotation = SurveyAnswer | QuestionAnswer | DrawingAnswer


def _text(value: Any, what: str) -> str:
    if type(value) is str and 0 < len(value) <= MAX_TEXT:
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ExportError(f"{what} must be a string, not {type(value).__name__}")
    text = str(value)
    if not text or len(text) > MAX_TEXT:
        raise ExportError(f"{what} must be 1 to {MAX_TEXT} characters")
    return text


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExportError(f"{what} must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ExportError(f"{what} must be finite")
    return number


def _answer(value: Any, question: str) -> str | tuple[str, ...]:
    if type(value) is str and 0 < len(value) <= MAX_TEXT:
        return value
    if isinstance(value, list):
        if len(value) > MAX_MARKS:
            raise ExportError(f"question {question!r} has more than {MAX_MARKS} answers")
        return tuple(_text(v, f"an answer to {question!r}") for v in value)
    return _text(value, f"the answer to {question!r}")


def _survey(task: str, value: list[Any]) -> SurveyAnswer:
    marks = []
    for item in value:
        if not isinstance(item, dict) or "choice" not in item:
            raise ExportError(f"survey task {task!r}: each mark must be an object with a choice")
        raw = item.get("answers") or {}
        if not isinstance(raw, dict):
            raise ExportError(f"survey task {task!r}: a mark's answers must be an object")
        if len(raw) > MAX_TASKS:
            raise ExportError(
                f"survey task {task!r}: a mark answers more than {MAX_TASKS} questions"
            )
        answers = {_text(q, "a question"): _answer(a, str(q)) for q, a in raw.items()}
        marks.append(SurveyMark(_text(item["choice"], "a survey choice"), answers))
    return SurveyAnswer(task, tuple(marks))


def _drawing(task: str, value: list[Any]) -> DrawingAnswer:
    boxes = []
    for item in value:
        if not isinstance(item, dict) or "tool" not in item:
            raise ExportError(f"drawing task {task!r}: each mark must be an object with a tool")
        missing = [k for k in ("x", "y", "width", "height") if k not in item]
        if missing:
            # Points, lines and circles have no width and height: only rectangles are read.
            raise ExportError(
                f"drawing task {task!r}: a mark lacks {', '.join(missing)} (only rectangles"
                " are aggregated)"
            )
        tool = item["tool"]
        if isinstance(tool, bool) or not isinstance(tool, int) or tool < 0:
            raise ExportError(f"drawing task {task!r}: tool must be a non-negative integer")
        frame = item.get("frame", 0)
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise ExportError(f"drawing task {task!r}: frame must be a non-negative integer")
        width = _number(item["width"], "a rectangle's width")
        height = _number(item["height"], "a rectangle's height")
        if width < 0 or height < 0:
            raise ExportError(f"drawing task {task!r}: a rectangle has a negative size")
        boxes.append(
            Rectangle(
                tool,
                _number(item["x"], "a rectangle's x"),
                _number(item["y"], "a rectangle's y"),
                width,
                height,
                frame,
            )
        )
    return DrawingAnswer(task, tuple(boxes))


def _question(task: str, value: Any) -> QuestionAnswer:
    if value is None:
        return QuestionAnswer(task, (), multiple=False)
    if isinstance(value, list):
        if len(value) > MAX_MARKS:
            raise ExportError(f"question task {task!r} has more than {MAX_MARKS} answers")
        return QuestionAnswer(task, tuple(_choice(v, task) for v in value), multiple=True)
    return QuestionAnswer(task, (_choice(value, task),), multiple=False)


def _choice(value: Any, task: str) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ExportError(f"question task {task!r}: an answer must be an index or a label")
    return value if isinstance(value, int) else _text(value, f"an answer to {task!r}")


def _kind_of(value: Any) -> TaskKind:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "drawing" if "tool" in value[0] else "survey"
    if isinstance(value, list) and not value:
        # Zooniverse writes an empty survey (the volunteer pressed "nothing here") as [].
        return "survey"
    return "question"


def distinct_marks(marks: tuple[SurveyMark, ...]) -> list[SurveyMark]:
    """The marks less exact repeats: the same mark twice in one classification (a double
    click) counts once, as panoptes-aggregation counts it. Marks of one species with different
    answers (two zebras counted apart) all count."""
    seen: set[tuple[str, tuple[tuple[str, str | tuple[str, ...]], ...]]] = set()
    kept = []
    for mark in marks:
        key = (mark.choice, tuple(sorted(mark.answers.items())))
        if key not in seen:
            seen.add(key)
            kept.append(mark)
    return kept


def parse_annotations(
    raw: Any, task_kinds: Mapping[str, TaskKind] | None = None
) -> tuple[Annotation, ...]:
    """The annotations of one classification, from the export's decoded JSON.

    Args:
        raw: the ``annotations`` column after ``json.loads``: a list of ``{"task", "value"}``.
        task_kinds: each task's kind where the workflow is known; otherwise the kind is read
            from the value's shape (an empty list reads as a survey with no marks).
    """
    if not isinstance(raw, list):
        raise ExportError("annotations must be a JSON list of tasks")
    if len(raw) > MAX_TASKS:
        raise ExportError(f"more than {MAX_TASKS} task annotations")
    parsed: list[Annotation] = []
    for item in raw:
        if not isinstance(item, dict) or "task" not in item or "value" not in item:
            raise ExportError('each annotation must be an object with "task" and "value"')
        task = _text(item["task"], "a task key")
        value = item["value"]
        kind = task_kinds.get(task) if task_kinds is not None else None
        kind = kind or _kind_of(value)
        if kind == "question":
            parsed.append(_question(task, value))
            continue
        if not isinstance(value, list):
            raise ExportError(f"{kind} task {task!r}: the value must be a list")
        if len(value) > MAX_MARKS:
            raise ExportError(f"{kind} task {task!r} has more than {MAX_MARKS} marks")
        parsed.append(_survey(task, value) if kind == "survey" else _drawing(task, value))
    return tuple(parsed)
