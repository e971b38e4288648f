"""Sampling effort: trap-nights from deployment spans, and the species accumulation curve.

A trap-night is 24 hours of one camera deployed; a deployment's effort is its span clipped to
the period asked about, in days (fractional: a camera out from noon to noon the next day is one
trap-night, whatever the calendar says). The curve counts species, not every taxon named:
``SPECIES_RULE``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

__all__ = [
    "MAX_SURVEY_DAYS",
    "SPECIES_RULE",
    "AccumulationPoint",
    "Span",
    "SurveyTooLong",
    "accumulation",
    "leaf_taxa",
    "trap_nights",
]

DAY = timedelta(days=1)
# The longest survey the curve is drawn for, one point a day: a century. A deployment entered
# as running since year 1 would otherwise make one request compute and answer millions of
# points; a longer survey is asked about a period at a time.
MAX_SURVEY_DAYS = 36_525


class SurveyTooLong(ValueError):
    """The survey spans more days than one curve is drawn for."""


@dataclass(frozen=True)
class Span:
    """When a camera was out: ``end`` None while it still is (counted up to ``now``)."""

    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class AccumulationPoint:
    day: date
    # Both cumulative, from the start of the period to the end of ``day`` (UTC).
    trap_nights: float
    species: int
    new_taxa: tuple[str, ...]


def _clip(
    span: Span, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    lo = span.start if start is None else max(span.start, start)
    hi = span.end if span.end is not None else now
    if end is not None:
        hi = min(hi, end)
    return (lo, hi) if hi > lo else None


def trap_nights(
    span: Span, start: datetime | None, end: datetime | None, *, now: datetime
) -> float:
    """The deployment's trap-nights inside ``[start, end)`` (either open)."""
    clipped = _clip(span, start, end, now)
    return 0.0 if clipped is None else (clipped[1] - clipped[0]) / DAY


SPECIES_RULE = (
    "a taxon counts as a species unless a taxon below it (a finer rank) was seen in the same "
    "sample, the survey up to that day (leaf taxa, as iNaturalist counts species)"
)


def leaf_taxa(seen: Iterable[str], ancestors: Mapping[str, Collection[str]]) -> set[str]:
    """Those of ``seen`` with nothing else of ``seen`` below them: Aves, Ardea and Ardea
    cinerea seen together are one species, Ardea cinerea; Aves alone is one."""
    names = set(seen)
    coarser = {a for n in names for a in ancestors.get(n, ()) if a != n}
    return names - coarser


def accumulation(
    spans: Iterable[Span],
    first_seen: Mapping[str, datetime],
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
    ancestors: Mapping[str, Collection[str]] | None = None,
) -> list[AccumulationPoint]:
    """Species against cumulative effort, one point per UTC day of the survey.

    The survey runs from the earliest clipped deployment start to the latest clipped end; each
    point counts the effort and the species seen up to the end of its day (the last day is
    cut at the survey's end, so the last point's effort is the survey's total). A taxon counts
    as ``SPECIES_RULE`` says, given each taxon's ``ancestors`` (names); ``new_taxa`` are the
    day's first sightings that count then.

    Raises:
        SurveyTooLong: the survey spans more than ``MAX_SURVEY_DAYS``.
    """
    clipped = [c for c in (_clip(s, start, end, now) for s in spans) if c is not None]
    if not clipped:
        return []
    survey_start = min(lo for lo, _ in clipped)
    survey_end = max(hi for _, hi in clipped)
    if survey_end - survey_start > MAX_SURVEY_DAYS * DAY:
        raise SurveyTooLong(
            f"the survey runs from {survey_start.date()} to {survey_end.date()}, longer than "
            f"the {MAX_SURVEY_DAYS} days one curve is drawn for"
        )
    by_day: dict[date, list[str]] = {}
    for taxon, seen in first_seen.items():
        if survey_start <= seen < survey_end:
            by_day.setdefault(seen.astimezone(UTC).date(), []).append(taxon)
    points: list[AccumulationPoint] = []
    sampled: set[str] = set()
    day = survey_start.astimezone(UTC).date()
    while True:
        cut = min(datetime.combine(day + DAY, time(), tzinfo=UTC), survey_end)
        effort = sum((min(hi, cut) - lo) / DAY for lo, hi in clipped if cut > lo)
        sampled.update(by_day.get(day, []))
        species = leaf_taxa(sampled, ancestors or {})
        new = tuple(sorted(t for t in by_day.get(day, []) if t in species))
        points.append(AccumulationPoint(day, effort, len(species), new))
        if cut >= survey_end:
            return points
        day += DAY
