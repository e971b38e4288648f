"""A Zooniverse classification, as read from the export, in the shape the built-in
volunteers' classifications are stored (``volunteers.consensus.Said``): the survey's marks as
taxa (choices matched to the project's taxa), "nothing here", and the rectangles drawn as
boxes relative to the display copy they were drawn on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wildlens.citsci.aggregation import (
    DEFAULT_BLANK_CHOICES,
    SERENGETI_BUCKETS,
    Classification,
    DrawingAnswer,
    ExportError,
    SurveyAnswer,
    SurveyMark,
)
from wildlens.citsci.models import ZooniverseSubject

__all__ = ["Answers", "TaxonNames", "answers_of", "choice_key", "taxon_names"]

# A survey's choice ids are its labels without spaces or punctuation, upper case
# ("ARDEACINEREA"); a choice matches the project's taxon whose name reads the same that way.
_NOT_LETTERS = re.compile(r"[^a-z]")
_BLANKS = {c.casefold() for c in DEFAULT_BLANK_CHOICES} | {"nothinghere", "blank", "empty"}
_COUNT_KEYS = ("howmany", "hwmn", "count")
_LEADING_NUMBER = re.compile(r"^\s*(\d{1,4})")

# normalised choice -> (scientific name, taxon id)
TaxonNames = Mapping[str, tuple[str, str]]


def choice_key(text: str) -> str:
    return _NOT_LETTERS.sub("", text.casefold())


def taxon_names(taxa: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The project's taxa (scientific name -> id) keyed as survey choices read."""
    return {choice_key(name): (name, taxon_id) for name, taxon_id in taxa.items()}


@dataclass(frozen=True, slots=True)
class Answers:
    nothing_here: bool
    taxa: list[dict[str, Any]]
    boxes: list[dict[str, Any]]


def _count(mark: SurveyMark) -> int | None:
    for question, answer in mark.answers.items():
        if not isinstance(answer, str) or not any(k in question.casefold() for k in _COUNT_KEYS):
            continue
        try:
            return SERENGETI_BUCKETS.lower_bounds[SERENGETI_BUCKETS.ordinal(answer)]
        except ExportError:
            found = _LEADING_NUMBER.match(answer)
            return int(found.group(1)) or None if found else None
    return None


def _behaviours(mark: SurveyMark) -> list[str]:
    return sorted(
        {b for answer in mark.answers.values() if isinstance(answer, tuple) for b in answer}
    )


def _taxon(mark: SurveyMark, names: TaxonNames) -> dict[str, Any]:
    matched = names.get(choice_key(mark.choice))
    taxon: dict[str, Any] = {
        "scientific_name": matched[0] if matched else mark.choice,
        "taxon_id": matched[1] if matched else None,
        "choice": mark.choice,
        "behaviours": _behaviours(mark),
    }
    count = _count(mark)
    if count is not None:
        taxon["count"] = count
    return taxon


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def answers_of(c: Classification, subject: ZooniverseSubject, names: TaxonNames) -> Answers:
    """What the volunteer said of the subject: a species once however many marks name it;
    boxes only where the display copy's size is known (they are drawn in its pixels)."""
    taxa: dict[str, dict[str, Any]] = {}
    boxes: list[dict[str, Any]] = []
    # A box drawn on the n-th frame is on the subject's n-th medium (frames of one subject
    # come from one camera: the first's size is theirs).
    frames = [str(m) for m in subject.frames()]
    for annotation in c.annotations:
        if isinstance(annotation, SurveyAnswer):
            for mark in annotation.marks:
                if choice_key(mark.choice) in _BLANKS:
                    continue
                taxon = _taxon(mark, names)
                taxa.setdefault(taxon["scientific_name"], taxon)
        elif isinstance(annotation, DrawingAnswer) and subject.width and subject.height:
            for r in annotation.rectangles:
                x, y = _clip(r.x / subject.width), _clip(r.y / subject.height)
                w = _clip((r.x + r.width) / subject.width) - x
                h = _clip((r.y + r.height) / subject.height) - y
                if w > 0 and h > 0:
                    boxes.append(
                        {
                            "media_id": frames[min(r.frame, len(frames) - 1)],
                            "x": x,
                            "y": y,
                            "width": w,
                            "height": h,
                        }
                    )
    return Answers(nothing_here=not taxa, taxa=list(taxa.values()), boxes=boxes)
