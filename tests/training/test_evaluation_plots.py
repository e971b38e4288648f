"""The report's pictures (PNGs a browser shows, of a size that fits the classes) and the files
stored with a model."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.training.evaluation_cases import (
    CHAMPION,
    LABELS,
    LOGITS_VALIDATION,
    PROBABILITIES,
    samples,
)
from wildlens.training.evaluation import (
    PLOTS,
    REPORT_FILE,
    EvaluationReport,
    Samples,
    evaluate,
    headline,
    plots,
    report_files,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _image(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_every_plot_is_a_png_of_sensible_size() -> None:
    report = evaluate(
        samples(),
        PROBABILITIES,
        validation_logits=LOGITS_VALIDATION,
        validation_labels=LABELS,
        champion=CHAMPION,
    )

    drawn = plots(report)

    assert set(drawn) == set(PLOTS)
    for name, data in drawn.items():
        image = _image(data)
        assert image.format == "PNG", name
        assert 300 <= image.width <= 4000, name
        assert 300 <= image.height <= 4000, name
        # Something is drawn: not one flat colour.
        assert len(np.unique(np.asarray(image.convert("L")))) > 10, name
    assert _image(drawn["reliability.png"]).info["Title"] == "Reliability diagram"


def test_the_same_report_draws_the_same_pictures() -> None:
    report = evaluate(samples(), PROBABILITIES, champion=CHAMPION)
    assert plots(report) == plots(report)


@pytest.mark.parametrize("classes", [1, 40])
def test_plots_of_one_class_and_of_many(classes: int) -> None:
    rng = np.random.default_rng(classes)
    labels = np.arange(120) % classes
    p = rng.dirichlet(np.ones(classes), size=120) if classes > 1 else np.ones((120, 1))
    names = [f"taxon {i}" for i in range(classes)]
    report = evaluate(Samples(labels, names, ["A"] * 120, [None] * 120), p)

    for name, data in plots(report).items():
        image = _image(data)
        assert 300 <= image.width <= 4000, name
        assert 300 <= image.height <= 4000, name
    # Forty class names down the side need a taller picture than one.
    assert _image(plots(report)["per_class_f1.png"]).height >= (1000 if classes == 40 else 300)


def test_the_files_stored_with_a_model_and_its_headline_figures() -> None:
    report = evaluate(samples(), PROBABILITIES, champion=CHAMPION)

    files = report_files(report)

    assert set(files) == {REPORT_FILE, *PLOTS}
    assert EvaluationReport.model_validate_json(files[REPORT_FILE]) == report
    figures = headline(report)
    assert figures["macro_f1"] == pytest.approx(11 / 18)
    assert figures["champion_macro_f1"] == pytest.approx(53 / 63)
    assert figures["better_than_champion"] is False
    assert figures["temperature"] is None
