"""How EcoTaxa's cells read: degrees and minutes, dropped leading zeros, ``name<parent``."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from wildlens.catalogue.exchange.ecotaxa.columns import (
    is_morphological,
    parse_category,
    parse_coordinate,
    parse_date,
    parse_time,
)


def test_positions_with_a_degree_sign_are_degrees_and_minutes() -> None:
    assert parse_coordinate("43°41.40") == pytest.approx(43.69)
    assert parse_coordinate("-7°12.5'") == pytest.approx(-7.208333, abs=1e-6)
    assert parse_coordinate("43°41.40'S") == pytest.approx(-43.69)
    assert parse_coordinate("43.69") == 43.69
    # DD.MMmm where the caller says so.
    assert parse_coordinate("43.4140", dm=True) == pytest.approx(43.69)
    assert parse_coordinate("-7.1230", dm=True) == pytest.approx(-7.205)
    with pytest.raises(ValueError, match="minutes"):
        parse_coordinate("43.75", dm=True)
    with pytest.raises(ValueError, match="neither"):
        parse_coordinate("north")


def test_times_lose_their_leading_zeros() -> None:
    assert parse_time("420") == timedelta(minutes=4, seconds=20)
    assert parse_time("5") == timedelta(seconds=5)
    assert parse_time("130405") == timedelta(hours=13, minutes=4, seconds=5)
    assert parse_time("13:04:05") == timedelta(hours=13, minutes=4, seconds=5)
    assert parse_date("20240312") == date(2024, 3, 12)
    for bad in ("250000", "1261", "noon"):
        with pytest.raises(ValueError, match="not a time"):
            parse_time(bad)
    with pytest.raises(ValueError, match="not a date"):
        parse_date("20241345")


def test_categories_and_their_groups() -> None:
    assert parse_category("egg<other") == ("egg", "other")
    assert parse_category("Copepoda") == ("Copepoda", "")
    assert is_morphological("egg<other")
    assert is_morphological("detritus")
    assert is_morphological("t001")
    assert not is_morphological("Copepoda")
    assert not is_morphological("Oithona<Oithonidae")
    with pytest.raises(ValueError, match="not a category"):
        parse_category("egg<")
