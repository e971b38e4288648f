"""Camtrap DP cells to catalogue values and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from wildlens.catalogue.exchange.camtrapdp.fields import Kind, offset_text, parse, render


def test_timestamps_are_stored_in_utc_and_written_with_a_clock() -> None:
    stored = parse("2021-04-11T20:43:09+01:00", "datetime")
    assert stored == datetime(2021, 4, 11, 19, 43, 9, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)
    plus_one = timezone(timedelta(hours=1))
    assert render(stored, "datetime", plus_one) == "2021-04-11T20:43:09+01:00"
    assert render(stored, "datetime") == "2021-04-11T19:43:09Z"


def test_a_timestamp_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        parse("2021-04-11T20:43:09", "datetime")


def test_offsets_are_written_as_camtrap_dp_writes_them() -> None:
    assert offset_text(datetime.fromisoformat("2020-05-30T04:57:37+02:00")) == "+02:00"
    assert offset_text(datetime.fromisoformat("2020-05-30T04:57:37-05:30")) == "-05:30"
    assert offset_text(datetime.fromisoformat("2020-05-30T04:57:37Z")) == "+00:00"


@pytest.mark.parametrize(
    ("cell", "kind", "value"),
    [
        ("", "str", ""),
        ("", "int", None),
        ("", "bool", None),
        ("true", "bool", True),
        ("false", "bool", False),
        ("1.30", "float", 1.3),
        ("-15", "int", -15),
        ('{"ISO": 640}', "json", {"ISO": 640}),
        ('{"ISO": 640}, "File": {}}', "json", '{"ISO": 640}, "File": {}}'),
    ],
)
def test_cells_parse_and_render_back(cell: str, kind: Kind, value: object) -> None:
    parsed = parse(cell, kind)
    assert parsed == value
    back = render(parsed, kind)
    assert back == cell or float(back) == float(cell)


def test_machine_times_are_written_in_whole_seconds_as_the_profile_requires() -> None:
    classified = datetime(2026, 11, 22, 10, 15, 30, 987654, tzinfo=UTC)
    assert render(classified, "datetime") == "2026-11-22T10:15:30Z"
    assert render(classified, "datetime", timezone(timedelta(hours=1))) == (
        "2026-11-22T11:15:30+01:00"
    )
