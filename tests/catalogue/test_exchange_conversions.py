"""The small conversions every format leans on: boxes, COCO times and categories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from wildlens.catalogue.exchange.boxes import to_pixels, to_relative
from wildlens.catalogue.exchange.coco.schema import (
    category_name,
    observation_kind,
    parse_coco_datetime,
)


def test_a_pixel_box_and_a_relative_box_are_the_same_box() -> None:
    # A 1920x1080 frame: the box's left edge a quarter in, its top a third down.
    relative = to_relative([480, 360, 96, 54], 1920, 1080)
    assert relative == [0.25, 1 / 3, 0.05, 0.05]
    assert to_pixels(relative, 1920, 1080) == [480.0, 360.0, 96.0, 54.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-05-10 08:10:12", datetime(2019, 5, 10, 8, 10, 12)),
        ("2019:05:10 08:10:12", datetime(2019, 5, 10, 8, 10, 12)),
        (
            "2019-05-10T08:10:12+02:00",
            datetime(2019, 5, 10, 8, 10, 12, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2019-05-10T06:10:12Z", datetime(2019, 5, 10, 6, 10, 12, tzinfo=UTC)),
    ],
)
def test_coco_capture_times_in_the_forms_files_use(text: str, expected: datetime) -> None:
    assert parse_coco_datetime(text) == expected


def test_a_time_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_coco_datetime("yesterday at noon")


@pytest.mark.parametrize(
    ("name", "kind", "scientific"),
    [
        ("empty", "blank", ""),
        ("Person", "human", ""),
        ("vehicle", "vehicle", ""),
        ("Ardea cinerea", "animal", "Ardea cinerea"),
        ("animal", "animal", ""),
    ],
)
def test_categories_become_observation_types_and_back(
    name: str, kind: str, scientific: str
) -> None:
    assert observation_kind(name) == (kind, scientific)
    written = category_name(kind, scientific)
    assert observation_kind(written) == (kind, scientific)
