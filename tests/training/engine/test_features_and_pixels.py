"""Features and pixels together. On generated plankton whose normalised vignettes hide the
size that a feature carries (and whose features say nothing of the shape the pixels show),
with a fixed seed the combined model beats both the features alone and the pixels alone by at
least 3 points on the same test objects; its ONNX export answers as scikit-learn does, and the
served combined bundle classifies objects with features as the combined model does and objects
without any by their pixels alone; a bundle whose features model is missing or altered is
refused."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.plankton import PLANKTON_CLASSES, plankton_object
from wildlens.common.bundles import FEATURES_FILE, BundleError, load_bundle
from wildlens.inference.classification.classifier import Classifier
from wildlens.training.engine import Sample, Trainer, TrainingConfig, export_bundle
from wildlens.training.features import (
    FOREST_PARITY_TOLERANCE,
    Split,
    add_features_model,
    fit_and_compare,
    forest_onnx,
)

NAMES = list(PLANKTON_CLASSES)
PER_SPLIT = {"train": 20, "validation": 8, "test": 15}
Row = tuple[bytes, int, str, dict[str, float]]


def _objects() -> list[Row]:
    rows: list[Row] = []
    for s, (split, count) in enumerate(PER_SPLIT.items()):
        for c, name in enumerate(NAMES):
            for i in range(count):
                png, features = plankton_object(name, s * 100_000 + c * 10_000 + i)
                jpeg = io.BytesIO()
                Image.open(io.BytesIO(png)).convert("RGB").save(jpeg, "JPEG", quality=95)
                rows.append((jpeg.getvalue(), c, split, features))
    return rows


def _loader(data: bytes) -> Callable[[], bytes]:
    def load() -> bytes:
        return data

    return load


def _split(rows: list[Row], probabilities: np.ndarray, splits: set[str]) -> Split:
    chosen = [n for n, row in enumerate(rows) if row[2] in splits]
    return Split(probabilities[chosen], [rows[n][3] for n in chosen], [rows[n][1] for n in chosen])


def test_the_combined_model_beats_features_alone_and_pixels_alone(tmp_path: Path) -> None:
    rows = _objects()
    samples = [
        Sample(crop=_loader(data), label=label, split=split)  # type: ignore[arg-type]
        for data, label, split, _ in rows
    ]
    config = TrainingConfig(
        architecture="resnet18",
        input_size=32,
        epochs=5,
        batch_size=16,
        learning_rate=1e-3,
        patience=50,
        seed=0,
    )
    result = Trainer(config, len(NAMES), samples).fit()
    exported = export_bundle(
        result.model,
        tmp_path / "bundle",
        [s for s in samples if s.split == "test"],
        name="plankton",
        version="1",
        labels=NAMES,
        norm=config.normalisation,
    )
    image_model = Classifier(exported.bundle)
    crops = [Image.open(io.BytesIO(row[0])).convert("RGB") for row in rows]
    probabilities = image_model.classify(crops)

    fitted = fit_and_compare(
        NAMES,
        _split(rows, probabilities, {"train", "validation"}),
        _split(rows, probabilities, {"test"}),
        seed=0,
    )
    scores = fitted.comparison
    assert scores.test_objects == PER_SPLIT["test"] * len(NAMES)
    assert scores.combined.accuracy >= scores.image.accuracy + 0.03
    assert scores.combined.accuracy >= scores.features.accuracy + 0.03
    # Each part alone is right about half the time: the other half of the class is hidden.
    assert scores.image.accuracy < 0.8
    assert scores.features.accuracy < 0.8
    assert set(scores.combined.per_class) == set(NAMES)
    assert scores.feature_names == ["area", "major", "mean", "minor"]

    onnx, parity = forest_onnx(fitted.combined_model, fitted.combined_test_inputs)
    assert parity.rows == len(fitted.combined_test_inputs)
    assert parity.max_difference <= FOREST_PARITY_TOLERANCE

    combined = Classifier(add_features_model(tmp_path / "bundle", onnx, fitted.table))
    assert combined.combines_features
    test = [n for n, row in enumerate(rows) if row[2] == "test"]
    served = combined.classify([crops[n] for n in test], [rows[n][3] for n in test])
    expected = fitted.combined_model.predict_proba(fitted.combined_test_inputs)
    assert np.abs(served - expected).max() <= FOREST_PARITY_TOLERANCE
    # Without features (or with none of the model's), the pixels alone.
    alone = combined.classify([crops[n] for n in test], [None] * len(test))
    np.testing.assert_allclose(alone, probabilities[test], atol=1e-6)
    # Some features missing: the medians of the fitted objects stand in for them.
    partial = combined.classify([crops[test[0]]], [{"major": rows[test[0]][3]["major"]}])
    assert partial.shape == (1, len(NAMES))

    # A bundle whose features model is missing or altered is refused before it serves.
    (tmp_path / "bundle" / FEATURES_FILE).write_bytes(onnx[:-10])
    with pytest.raises(BundleError, match=r"features\.onnx in .* does not match its manifest"):
        load_bundle(tmp_path / "bundle")
    (tmp_path / "bundle" / FEATURES_FILE).unlink()
    with pytest.raises(BundleError, match=r"has no features\.onnx"):
        load_bundle(tmp_path / "bundle")
