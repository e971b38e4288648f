"""The evaluation report's figures against values worked out by hand on the fixed predictions
of ``evaluation_cases`` (the table there)."""

from __future__ import annotations

import pytest

from tests.training.evaluation_cases import (
    CHAMPION,
    PROBABILITIES,
    WITH_PRIOR,
    samples,
)
from wildlens.training.evaluation import EvaluationReport, evaluate, expected_calibration_error


def test_accuracy_precision_recall_f1_and_the_confusion_matrix_are_the_hand_computed_ones() -> None:
    figures = evaluate(samples(), PROBABILITIES).challenger

    # Rows true, columns predicted: s1 0→1; s6 2→0; s7 2→1.
    assert figures.confusion_matrix == [[2, 1, 0], [0, 2, 0], [1, 1, 1]]
    assert figures.top1 == pytest.approx(5 / 8)
    # Top-2 misses only s7 (true 2, its two most probable are 1 and 0); with 3 classes the
    # "top-5" is top-3, which nothing misses.
    assert figures.top5_k == 3
    assert figures.top5 == pytest.approx(1.0)
    by_name = {c.name: c for c in figures.classes}
    # Vulpes vulpes: predicted 3 times (s0, s2, s6), 2 right; 3 in the split.
    assert by_name["Vulpes vulpes"].precision == pytest.approx(2 / 3)
    assert by_name["Vulpes vulpes"].recall == pytest.approx(2 / 3)
    assert by_name["Vulpes vulpes"].f1 == pytest.approx(2 / 3)
    assert (by_name["Vulpes vulpes"].support, by_name["Vulpes vulpes"].predicted) == (3, 3)
    # Vulpes lagopus: predicted 4 times (s1, s3, s4, s7), 2 right; both of its 2 found.
    assert by_name["Vulpes lagopus"].precision == pytest.approx(1 / 2)
    assert by_name["Vulpes lagopus"].recall == pytest.approx(1.0)
    assert by_name["Vulpes lagopus"].f1 == pytest.approx(2 * 0.5 * 1 / 1.5)
    # Mustelidae: predicted once (s5), right; 1 of its 3 found.
    assert by_name["Mustelidae"].precision == pytest.approx(1.0)
    assert by_name["Mustelidae"].recall == pytest.approx(1 / 3)
    assert by_name["Mustelidae"].f1 == pytest.approx(0.5)
    assert all(c.note is None for c in figures.classes)
    assert figures.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 1 / 2) / 3)  # 11/18
    assert figures.macro_f1_classes == 3
    assert figures.balanced_accuracy == pytest.approx((2 / 3 + 1 + 1 / 3) / 3)


def test_top_2_accuracy_counts_a_sample_whose_true_class_is_second() -> None:
    from wildlens.training.evaluation.classification import top_k_accuracy

    s = samples()
    assert top_k_accuracy(PROBABILITIES, s.labels, 2) == pytest.approx(7 / 8)
    # A k beyond the classes is all of them.
    assert top_k_accuracy(PROBABILITIES, s.labels, 10) == pytest.approx(1.0)


def test_ece_over_two_bins_is_the_hand_computed_one() -> None:
    s = samples()
    # (0, 0.5]: s1 0.50, s6 0.50, s7 0.45, all wrong: |0 - 1.45/3| · 3/8.
    # (0.5, 1]: s0 0.7, s2 0.6, s3 0.6, s4 0.7, s5 0.8, all right: |1 - 0.68| · 5/8.
    expected = 3 / 8 * (1.45 / 3) + 5 / 8 * 0.32
    assert expected_calibration_error(PROBABILITIES, s.labels, bins=2) == pytest.approx(expected)
    assert expected == pytest.approx(0.38125)


def test_the_report_keeps_fifteen_reliability_bins_and_their_ece() -> None:
    calibration = evaluate(samples(), PROBABILITIES).challenger.calibration
    assert len(calibration.bins) == 15
    assert sum(b.samples for b in calibration.bins) == 8
    # 0.45 in (0.4, 0.467]; 0.50 (twice) in (0.467, 0.533]; 0.7 (twice) in (0.667, 0.733];
    # 0.8 in (0.733, 0.8]; the two 0.6 in (0.533, 0.6]: each bin's gap weighed by its share.
    expected = (
        1 / 8 * 0.45  # s7 wrong
        + 2 / 8 * 0.50  # s1, s6 wrong
        + 2 / 8 * (1 - 0.6)  # s2, s3 right
        + 2 / 8 * (1 - 0.7)  # s0, s4 right
        + 1 / 8 * (1 - 0.8)  # s5 right
    )
    assert calibration.ece == pytest.approx(expected)
    assert calibration.temperature is None
    assert calibration.ece_after_temperature is None


def test_accuracy_per_location_event_and_taxonomic_level() -> None:
    figures = evaluate(samples(), PROBABILITIES).challenger

    assert [(g.key, g.samples, g.correct) for g in figures.locations] == [
        ("A", 2, 1),
        ("B", 3, 3),
        ("C", 3, 1),
    ]
    assert figures.locations[2].accuracy == pytest.approx(1 / 3)
    # Mean probabilities: e1 [.55 .35 .10] → 0 right; e2 right; e3 [.25 .65 .10] → 1 right;
    # e4 [.30 .15 .55] → 2 right although s6 alone is wrong; s7 alone → 1, wrong.
    assert (figures.events.events, figures.events.correct) == (5, 4)
    assert figures.events.accuracy == pytest.approx(0.8)
    assert figures.events.mixed_events == 0
    assert "mean" in figures.events.rule
    levels = {level.level: level for level in figures.taxonomic_levels}
    # Species: only the fox samples (Mustelidae names no species); s1 is the wrong fox.
    assert (levels["species"].samples, levels["species"].correct) == (5, 4)
    # Genus: the wrong fox is still Vulpes.
    assert (levels["genus"].samples, levels["genus"].correct) == (5, 5)
    # Family: all eight; s6 and s7 (Mustelidae taken for Canidae) are wrong.
    assert (levels["family"].samples, levels["family"].correct) == (8, 6)
    assert levels["family"].accuracy == pytest.approx(0.75)


def test_an_event_of_several_classes_is_judged_on_its_most_frequent_one() -> None:
    from wildlens.training.evaluation import Samples

    s = Samples([0, 0, 1], ["a", "b"], ["L", "L", "L"], ["e", "e", "e"])
    report = evaluate(s, [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    # True class of the event: a (2 of 3). Mean: [0.467, 0.533] → b: wrong.
    assert (report.challenger.events.events, report.challenger.events.correct) == (1, 0)
    assert report.challenger.events.mixed_events == 1


def test_top1_with_and_without_the_prior() -> None:
    prior = evaluate(samples(), PROBABILITIES, probabilities_with_prior=WITH_PRIOR).challenger.prior

    assert prior is not None
    assert prior.top1_without == pytest.approx(5 / 8)
    assert prior.top1_with == pytest.approx(7 / 8)
    assert prior.top1_gain == pytest.approx(2 / 8)
    # With the prior only s6 (Mustelidae → Vulpes vulpes) is wrong: F1 6/7, 1, 4/5.
    assert prior.macro_f1_with == pytest.approx((6 / 7 + 1 + 4 / 5) / 3)


def test_the_serving_model_side_by_side_and_the_decision_on_macro_f1() -> None:
    report = evaluate(samples(), PROBABILITIES, champion=CHAMPION)

    champion = report.champion
    assert champion is not None
    # The serving model is wrong on s3 only (Vulpes lagopus taken for Vulpes vulpes).
    assert champion.confusion_matrix == [[3, 0, 0], [1, 1, 0], [0, 0, 3]]
    assert champion.top1 == pytest.approx(7 / 8)
    # F1: Vulpes vulpes 2·(3/4)·1/(7/4) = 6/7, Vulpes lagopus 2/3, Mustelidae 1.
    assert champion.macro_f1 == pytest.approx((6 / 7 + 2 / 3 + 1) / 3)  # 53/63
    assert report.difference is not None
    assert report.difference.macro_f1 == pytest.approx(11 / 18 - 53 / 63)
    assert report.difference.top1 == pytest.approx(5 / 8 - 7 / 8)
    assert report.difference.f1["Mustelidae"] == pytest.approx(0.5 - 1)
    assert report.difference.taxonomic_levels["family"] == pytest.approx(6 / 8 - 1)
    assert report.better_than_champion is False
    assert "macro-F1" in report.decision

    swapped = evaluate(samples(), CHAMPION, champion=PROBABILITIES)
    assert swapped.better_than_champion is True
    assert swapped.difference is not None
    assert swapped.difference.macro_f1 == pytest.approx(53 / 63 - 11 / 18)
    # A gain smaller than the one asked for is not enough.
    assert (
        evaluate(samples(), CHAMPION, champion=PROBABILITIES, min_gain=0.3).better_than_champion
        is False
    )


def test_without_a_serving_model_the_trained_one_has_nothing_to_beat() -> None:
    report = evaluate(samples(), PROBABILITIES)
    assert report.champion is None
    assert report.difference is None
    assert report.better_than_champion is True
    assert "no model is serving" in report.decision


def test_the_report_is_json_and_reads_back_the_same() -> None:
    report = evaluate(
        samples(), PROBABILITIES, probabilities_with_prior=WITH_PRIOR, champion=CHAMPION
    )
    text = report.model_dump_json()
    assert "NaN" not in text
    assert EvaluationReport.model_validate_json(text) == report
    assert report.support == [3, 2, 3]
    assert report.class_names == ["Vulpes vulpes", "Vulpes lagopus", "Mustelidae"]
