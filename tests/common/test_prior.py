"""The shared prior's face: fitted from (taxon, location, time) records as training's
evaluation fits it on a training split, and applied to a batch of probability vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from wildlens.common.prior import (
    Capture,
    Sighting,
    SpatiotemporalPrior,
    apply_prior,
    combine,
    fit_prior,
    sighting_at,
)

JUNE_NIGHT = datetime(2024, 6, 3, 23, 30, tzinfo=UTC)


def test_records_become_sightings_in_utc() -> None:
    # 00:30 on 1 July at UTC+2 is 22:30 on 30 June in UTC.
    local = datetime(2024, 7, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert sighting_at("fox", "L1", local) == Sighting("fox", "L1", 6, 22)
    assert sighting_at("fox") == Sighting("fox", "", 0, -1)


def test_fitting_from_records_equals_fitting_from_sightings() -> None:
    records = [("fox", "L1", JUNE_NIGHT)] * 3 + [("badger", "L2", None), ("badger", "", None)]
    fitted = fit_prior(records, alpha=1.0, strength=2.0)
    by_hand = SpatiotemporalPrior(
        [Sighting("fox", "L1", 6, 23)] * 3 + [Sighting("badger", "L2"), Sighting("badger")],
        alpha=1.0,
        strength=2.0,
    )
    keys = ["fox", "badger"]
    for where in [("L1", 6, 23), ("L1", 6, -1), ("L2", 0, -1), ("nowhere", 1, 1)]:
        np.testing.assert_allclose(
            fitted.probabilities(keys, *where), by_hand.probabilities(keys, *where)
        )
    assert fitted.count == 5


def test_applying_combines_each_row_with_the_prior_at_its_place_and_time() -> None:
    prior = fit_prior([("fox", "L1", JUNE_NIGHT)] * 8 + [("badger", "L2", JUNE_NIGHT)] * 8)
    keys = ["fox", "badger"]
    image = np.array([[0.5, 0.5], [0.5, 0.5], [0.7, 0.3]])
    captures = [Capture("L1", JUNE_NIGHT), Capture("L2", JUNE_NIGHT), Capture()]
    out = apply_prior(image, keys, prior, captures)
    assert out[0].argmax() == 0  # a tie at the fox's site goes to the fox
    assert out[1].argmax() == 1  # and at the badger's site to the badger
    for row, capture, combined in zip(image, captures, out, strict=True):
        at = prior.probabilities(
            keys, capture.location_id, *((6, 23) if capture.captured_at else (0, -1))
        )
        np.testing.assert_allclose(combined, combine(row, at, 1.0))
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    # Weight 0 ignores the prior.
    np.testing.assert_allclose(apply_prior(image, keys, prior, captures, weight=0.0), image)


def test_a_prior_fitted_on_nothing_changes_nothing() -> None:
    image = np.array([[0.2, 0.3, 0.5]])
    out = apply_prior(image, ["a", "b", "c"], fit_prior([]), [Capture("L1", JUNE_NIGHT)])
    np.testing.assert_allclose(out, image)


def test_mismatched_shapes_are_refused() -> None:
    prior = fit_prior([])
    with pytest.raises(ValueError, match=r"must be \[N, 2\]"):
        apply_prior(np.ones((1, 3)), ["a", "b"], prior, [Capture()])
    with pytest.raises(ValueError, match="2 rows of probabilities but 1 captures"):
        apply_prior(np.ones((2, 2)) / 2, ["a", "b"], prior, [Capture()])
