"""The temperature fitted on validation logits, and calibration before and after it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wildlens.training.evaluation import (
    EvaluationError,
    Samples,
    evaluate,
    fit_temperature,
    softmax,
)
from wildlens.training.evaluation.calibration import negative_log_likelihood

# Every sample has logits (2, 0) and three in four are of class 0: the NLL is least where
# softmax gives class 0 exactly 3/4, i.e. sigmoid(2 / T) = 3/4, T = 2 / ln 3.
LOGITS = np.array([[2.0, 0.0]] * 8)
LABELS = np.array([0, 0, 0, 1, 0, 0, 0, 1])


def test_the_fitted_temperature_is_the_one_worked_out_by_hand() -> None:
    assert fit_temperature(LOGITS, LABELS) == pytest.approx(2 / math.log(3), rel=1e-5)


def test_the_fitted_temperature_minimises_the_validation_nll() -> None:
    rng = np.random.default_rng(7)
    true_logits = rng.normal(scale=2.0, size=(2000, 4))
    labels = np.array([rng.choice(4, p=row) for row in softmax(true_logits)])
    # An over-confident network: its logits three times what the data support.
    logits = 3 * true_logits

    t = fit_temperature(logits, labels)

    assert 2.6 < t < 3.4
    best = negative_log_likelihood(logits, labels, t)
    assert best <= negative_log_likelihood(logits, labels, t * 1.05)
    assert best <= negative_log_likelihood(logits, labels, t / 1.05)
    assert best < negative_log_likelihood(logits, labels, 1.0)


def test_the_report_gives_the_ece_before_and_after_the_temperature() -> None:
    s = Samples(LABELS, ["Vulpes vulpes", "Meles meles"], ["A"] * 8, [None] * 8)

    report = evaluate(s, softmax(LOGITS), validation_logits=LOGITS, validation_labels=LABELS)

    calibration = report.challenger.calibration
    assert calibration.temperature == pytest.approx(2 / math.log(3), rel=1e-5)
    # Before: confidence sigmoid(2) = 0.8808 in one bin, accuracy 0.75.
    assert calibration.ece == pytest.approx(1 / (1 + math.exp(-2)) - 0.75)
    # After: confidence 0.75, accuracy 0.75.
    assert calibration.ece_after_temperature == pytest.approx(0.0, abs=1e-5)
    assert calibration.bins_after_temperature is not None
    assert [b.samples for b in calibration.bins_after_temperature if b.samples] == [8]
    # The temperature changes no decision.
    assert report.challenger.top1 == pytest.approx(0.75)


def test_a_temperature_needs_validation_logits() -> None:
    with pytest.raises(EvaluationError, match="no temperature"):
        fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(EvaluationError, match="temperature must be positive"):
        softmax(LOGITS, 0.0)
