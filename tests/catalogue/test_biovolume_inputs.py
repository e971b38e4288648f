"""Sizes an object's features cannot have give no biovolume (the object is left out of the
sum) rather than an error that would fail a whole statistic or Darwin Core export."""

from __future__ import annotations

import math

import pytest

from wildlens.catalogue.statistics.volumes import biovolume_mm3


def test_an_ellipse_gives_its_volume() -> None:
    volume = biovolume_mm3({"major": 10.0, "minor": 4.0}, 0.1, "ellipse")
    assert volume == pytest.approx(4 / 3 * math.pi * 0.5 * 0.2**2)


@pytest.mark.parametrize(
    ("sizes", "method"),
    [
        ({"major": 10.0, "minor": 1e200}, "ellipse"),
        ({"major": 1e308, "minor": 1e308}, "ellipse"),
        ({"major": -3.0, "minor": 2.0}, "ellipse"),
        ({"area": -12.0}, "area"),
        ({"area": 1e308}, "area"),
        ({"minor": 2.0}, "ellipse"),
    ],
)
def test_sizes_that_cannot_be_give_no_volume(sizes: dict[str, float], method: str) -> None:
    assert biovolume_mm3(sizes, 0.0106, method) is None  # type: ignore[arg-type]
