"""The evaluation report where a split is not the tidy case: a class never predicted, a class
absent from the test split, a single class, no samples at all, inputs that are not what they
claim, and a serving model whose classes differ."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.training.evaluation_cases import CLASS_NAMES, EVENTS, LABELS, LOCATIONS, samples
from wildlens.training.evaluation import (
    EvaluationError,
    Samples,
    align_classes,
    evaluate,
)


def test_a_class_never_predicted_has_precision_0_and_says_so() -> None:
    # Nothing is ever called Mustelidae.
    p = np.array([[0.9, 0.1, 0.0]] * 3 + [[0.1, 0.9, 0.0]] * 5)
    report = evaluate(samples(), p)

    mustelidae = report.challenger.classes[2]
    assert (mustelidae.precision, mustelidae.recall, mustelidae.f1) == (0.0, 0.0, 0.0)
    assert mustelidae.predicted == 0
    assert mustelidae.note is not None
    assert "never predicted" in mustelidae.note
    assert any("Mustelidae" in note and "never predicted" in note for note in report.notes)
    # Predicted foxes: 3 of 3 and 2 of 5 right: F1 1 and 4/7; Mustelidae 0 still counts.
    assert report.challenger.macro_f1 == pytest.approx((1 + 4 / 7 + 0) / 3)
    assert not any(math.isnan(c.precision) for c in report.challenger.classes)


def test_a_class_absent_from_the_split_is_left_out_of_the_averages_unless_predicted() -> None:
    names = ["a", "b", "c"]
    s = Samples([0, 0, 1, 1], names, ["L"] * 4, ["e1", "e2", "e3", "e4"])
    # c is in no sample and never predicted: no evidence either way.
    quiet = evaluate(s, [[0.8, 0.2, 0.0], [0.4, 0.6, 0.0], [0.1, 0.9, 0.0], [0.2, 0.8, 0.0]])
    c = quiet.challenger.classes[2]
    assert (c.support, c.predicted, c.precision, c.recall) == (0, 0, 0.0, 0.0)
    assert c.note is not None
    assert "absent from the test split" in c.note
    # a: 1 of 2 found, precision 1 → F1 2/3; b: 2 of 2 found, precision 2/3 → F1 4/5.
    assert quiet.challenger.macro_f1 == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert quiet.challenger.macro_f1_classes == 2
    assert quiet.challenger.balanced_accuracy == pytest.approx((1 / 2 + 1) / 2)
    assert quiet.support == [2, 2, 0]

    # Predicted once (wrongly, for an a): it counts, with F1 0.
    loud = evaluate(s, [[0.8, 0.2, 0.0], [0.1, 0.2, 0.7], [0.1, 0.9, 0.0], [0.2, 0.8, 0.0]])
    c = loud.challenger.classes[2]
    assert (c.predicted, c.precision, c.f1) == (1, 0.0, 0.0)
    assert loud.challenger.macro_f1_classes == 3
    # a: precision 1, recall 1/2 → 2/3; b: precision 1, recall 1 → 1; c: 0.
    assert loud.challenger.macro_f1 == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert loud.challenger.balanced_accuracy == pytest.approx((1 / 2 + 1) / 2)


def test_one_class_only() -> None:
    s = Samples([0, 0, 0], ["Vulpes vulpes"], ["A", "B", "B"], ["e1", "e2", "e2"])
    report = evaluate(s, np.ones((3, 1)))

    figures = report.challenger
    assert (figures.top1, figures.top5, figures.top5_k) == (1.0, 1.0, 1)
    assert (figures.balanced_accuracy, figures.macro_f1) == (1.0, 1.0)
    assert figures.confusion_matrix == [[3]]
    assert figures.calibration.ece == pytest.approx(0.0)


def test_no_samples_is_a_clear_error() -> None:
    with pytest.raises(EvaluationError, match="no samples"):
        Samples([], CLASS_NAMES, [], [])


@pytest.mark.parametrize(
    ("probabilities", "message"),
    [
        (np.zeros((8, 2)), "shape"),
        (np.full((8, 3), 2.0), "sum to 1"),
        (np.array([[3.0, -1.0, -1.0]] * 8), "negative"),
        (np.full((8, 3), np.nan), "finite"),
    ],
)
def test_what_is_not_probabilities_of_the_split_is_refused(
    probabilities: np.ndarray, message: str
) -> None:
    with pytest.raises(EvaluationError, match=message):
        evaluate(samples(), probabilities)


def test_samples_whose_parts_disagree_are_refused() -> None:
    with pytest.raises(EvaluationError, match="locations has 7 entries for 8 samples"):
        Samples(LABELS, CLASS_NAMES, LOCATIONS[:7], EVENTS)
    with pytest.raises(EvaluationError, match=r"labels must lie in 0\.\.2"):
        Samples([*LABELS[:7], 3], CLASS_NAMES, LOCATIONS, EVENTS)
    with pytest.raises(EvaluationError, match="validation labels"):
        evaluate(samples(), np.full((8, 3), 1 / 3), validation_logits=np.zeros((4, 3)))


def test_a_serving_model_with_other_classes_is_scored_on_the_splits_classes() -> None:
    # It knows Vulpes vulpes and Mustelidae, and Canis lupus, which the split does not have.
    theirs = ["Mustelidae", "Canis lupus", "Vulpes vulpes"]
    p = np.array([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])

    aligned = align_classes(p, theirs, CLASS_NAMES)

    # Canis lupus dropped, rows renormalised; Vulpes lagopus unknown to it: 0.
    np.testing.assert_allclose(aligned[0], [0.5 / 0.7, 0.0, 0.2 / 0.7])
    # All of its belief on a class the split lacks: no preference left.
    np.testing.assert_allclose(aligned[1], [1 / 3, 1 / 3, 1 / 3])
    with pytest.raises(EvaluationError, match="none of the test split's classes"):
        align_classes(p[:, 1:2], ["Canis lupus"], CLASS_NAMES)
