"""Sampling effort and the species accumulation curve, checked against numbers worked out by
hand, and the Accept header negotiation of the statistics endpoint."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from wildlens.catalogue.statistics.api import negotiate
from wildlens.catalogue.statistics.effort import (
    MAX_SURVEY_DAYS,
    Span,
    SurveyTooLong,
    accumulation,
    leaf_taxa,
    trap_nights,
)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2021, 6, day, hour, minute, tzinfo=UTC)


NOW = at(30)


def test_trap_nights_are_the_span_clipped_to_the_period() -> None:
    span = Span(at(1, 12), at(11, 12))
    assert trap_nights(span, None, None, now=NOW) == 10
    # Noon to noon: half of the first and of the last calendar day count.
    assert trap_nights(span, at(1), at(2), now=NOW) == 0.5
    assert trap_nights(span, at(5, 6), None, now=NOW) == pytest.approx(6.25)
    assert trap_nights(span, None, at(3), now=NOW) == 1.5
    # Periods outside the span count nothing.
    assert trap_nights(span, at(12), at(20), now=NOW) == 0
    assert trap_nights(span, None, at(1), now=NOW) == 0


def test_an_open_deployment_counts_up_to_now() -> None:
    assert trap_nights(Span(at(20), None), None, None, now=NOW) == 10
    assert trap_nights(Span(at(20), None), None, at(25), now=NOW) == 5


def test_a_period_in_another_offset_is_the_same_instant() -> None:
    plus_two = timezone(timedelta(hours=2))
    span = Span(at(1), at(3))
    # 02:00+02:00 is midnight UTC.
    assert trap_nights(span, datetime(2021, 6, 2, 2, tzinfo=plus_two), None, now=NOW) == 1


def test_accumulation_adds_effort_and_new_taxa_day_by_day() -> None:
    spans = [Span(at(1), at(4)), Span(at(2, 12), at(5))]
    first_seen = {"Vulpes vulpes": at(1, 22), "Ardea cinerea": at(3, 5), "Meles meles": at(3, 9)}
    points = accumulation(spans, first_seen, None, None, now=NOW)
    assert [p.day for p in points] == [date(2021, 6, d) for d in (1, 2, 3, 4)]
    # Day 1: camera one; day 2: camera one and half a day of camera two; days 3 and 4: both
    # cameras, until camera one leaves at the end of day 3.
    assert [p.trap_nights for p in points] == [1, 2.5, 4.5, 5.5]
    assert [p.species for p in points] == [1, 1, 3, 3]
    assert points[2].new_taxa == ("Ardea cinerea", "Meles meles")


def test_accumulation_is_clipped_to_the_period() -> None:
    spans = [Span(at(1), at(11))]
    first_seen = {"Vulpes vulpes": at(1, 22), "Ardea cinerea": at(6, 5)}
    points = accumulation(spans, first_seen, at(5, 12), at(7), now=NOW)
    assert [p.day for p in points] == [date(2021, 6, 5), date(2021, 6, 6)]
    assert [p.trap_nights for p in points] == [0.5, 1.5]
    # The fox was first seen before the period: the curve counts what the period saw.
    assert [p.species for p in points] == [0, 1]


def test_no_effort_no_curve() -> None:
    assert accumulation([], {}, None, None, now=NOW) == []
    assert accumulation([Span(at(1), at(2))], {}, at(10), at(12), now=NOW) == []


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "json"),
        ("*/*", "json"),
        ("text/csv", "csv"),
        ("image/png", "png"),
        ("text/html, image/png;q=0.9, text/csv;q=0.5", "png"),
        ("text/csv;q=0.4, image/png;q=0.8", "png"),
        ("image/png;q=0, text/csv", "csv"),
        ("application/json, image/png", "json"),
        ("application/xml", "json"),
    ],
)
def test_accept_header_picks_the_format(accept: str | None, chosen: str) -> None:
    assert negotiate(accept) == chosen


def test_coarser_taxa_count_only_while_nothing_below_them_was_seen() -> None:
    ancestors = {
        "Ardea cinerea": {"Ardea", "Ardeidae", "Aves"},
        "Ardea": {"Ardeidae", "Aves"},
        "Anas platyrhynchos": {"Anas", "Anatidae", "Aves"},
    }
    assert leaf_taxa(["Aves"], ancestors) == {"Aves"}
    assert leaf_taxa(["Aves", "Ardea", "Ardea cinerea"], ancestors) == {"Ardea cinerea"}
    assert leaf_taxa(["Ardea", "Anas platyrhynchos"], ancestors) == {
        "Ardea",
        "Anas platyrhynchos",
    }
    # The curve: a bird on day 1, a grey heron on day 2 is the same one species so far.
    spans = [Span(at(1), at(3))]
    points = accumulation(
        spans,
        {"Aves": at(1, 6), "Ardea cinerea": at(2, 6)},
        None,
        None,
        now=at(9),
        ancestors=ancestors,
    )
    assert [(p.species, p.new_taxa) for p in points] == [
        (1, ("Aves",)),
        (1, ("Ardea cinerea",)),
    ]


def test_a_survey_longer_than_a_century_is_asked_about_a_period_at_a_time() -> None:
    # A deployment entered as running since year 1: millions of daily points otherwise.
    ancient = [Span(datetime(1, 1, 9, tzinfo=UTC), None)]
    with pytest.raises(SurveyTooLong, match=str(MAX_SURVEY_DAYS)):
        accumulation(ancient, {}, None, None, now=NOW)
    century = NOW - timedelta(days=MAX_SURVEY_DAYS)
    assert len(accumulation(ancient, {}, century, None, now=NOW)) == MAX_SURVEY_DAYS
