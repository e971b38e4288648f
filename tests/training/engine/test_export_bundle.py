"""What the engine hands to inference: a bundle that inference's classifier loads and that
answers as the torch model does, evaluation preprocessing equal to the one served, a clear
failure where the export does not match, and a model card."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.shapes import SHAPE_LABELS, shape_crop
from tests.training.engine.conftest import samples
from wildlens.common.bundles import InputSpec, LabelSpec, load_bundle
from wildlens.common.imaging import preprocess
from wildlens.inference.classification.classifier import Classifier
from wildlens.training.engine import (
    ModelCard,
    Normalisation,
    ParityError,
    Trainer,
    TrainingConfig,
    build_classifier,
    check_parity,
    eval_transform,
    export_onnx,
    write_classifier_bundle,
    write_model_card,
)

CONFIG = TrainingConfig(
    architecture="resnet18", input_size=32, epochs=1, batch_size=4, max_steps_per_epoch=3
)


def test_evaluation_input_is_exactly_what_inference_feeds_the_bundle() -> None:
    norm = Normalisation(size=40)
    spec = InputSpec.model_validate(norm.input_spec())
    for size in (40, 57, 300):
        crop = shape_crop(1, seed=size, size=size)
        expected, _ = preprocess(crop, spec)
        np.testing.assert_array_equal(eval_transform(norm)(crop).numpy(), expected)


def test_a_bundle_from_the_engine_serves_the_same_top_class_as_torch(tmp_path: Path) -> None:
    data = samples({"train": 4, "validation": 2, "test": 4})
    result = Trainer(CONFIG, 3, data).fit()
    onnx = export_onnx(result.model, CONFIG.input_size)
    test = [s for s in data if s.split == "test"]
    parity = check_parity(result.model, onnx, test, CONFIG.normalisation)
    labels: list[LabelSpec | str] = [
        LabelSpec(label=SHAPE_LABELS[0], scientific_name="Discus rotundus"),
        SHAPE_LABELS[1],
        SHAPE_LABELS[2],
    ]
    bundle = write_classifier_bundle(
        tmp_path / "bundle",
        onnx,
        name="shapes",
        version="1",
        labels=labels,
        norm=CONFIG.normalisation,
        temperature=1.5,
        metrics={"parity_max_difference": parity.max_difference},
        training={"architecture": CONFIG.architecture, "best_epoch": result.best_epoch},
    )
    manifest = load_bundle(bundle.root).manifest
    assert manifest.label_names == list(SHAPE_LABELS)
    assert manifest.labels[0].scientific_name == "Discus rotundus"
    assert manifest.temperature == 1.5
    assert (manifest.input.width, manifest.input.letterbox) == (32, False)
    assert manifest.input.mean == pytest.approx((0.485, 0.456, 0.406))

    crops = [
        Image.open(io.BytesIO(sample.crop())).convert("RGB")  # type: ignore[operator]
        for sample in test
    ]
    served = Classifier(bundle).classify(crops)
    batch = torch.stack([eval_transform(CONFIG.normalisation)(crop) for crop in crops])
    with torch.no_grad():
        logits = result.model(batch).double()
    assert (served.argmax(axis=1) == logits.argmax(dim=1).numpy()).all()
    # Inference divides the logits by the bundle's temperature.
    np.testing.assert_allclose(served, torch.softmax(logits / 1.5, dim=1).numpy(), atol=1e-5)


def test_an_export_that_does_not_match_fails_with_the_difference() -> None:
    torch.manual_seed(0)
    one, _ = build_classifier("mobilenet_v3_small", 3)
    other, _ = build_classifier("mobilenet_v3_small", 3)
    # Weights far from each other's, so the probabilities must differ.
    with torch.no_grad():
        other.classifier[-1].bias.add_(torch.tensor([5.0, -5.0, 0.0]))  # type: ignore[index, union-attr]
    data = [s for s in samples({"test": 2}) if s.split == "test"]
    with pytest.raises(ParityError, match=r"differs from the torch model by 0\.\d+ .* over 6 test"):
        check_parity(one.eval(), export_onnx(other, 32), data, Normalisation(size=32))


def test_the_model_card_tells_data_metrics_use_limits_and_base_weights(tmp_path: Path) -> None:
    card = ModelCard(
        name="shapes",
        version="1",
        architecture="resnet18",
        dataset_id="d-42",
        classes=list(SHAPE_LABELS),
        counts={
            "train": {"disc": 40, "striped-square": 38, "chequered-triangle": 12},
            "validation": {"disc": 5, "striped-square": 5, "chequered-triangle": 2},
            "test": {"disc": 6, "striped-square": 4},
        },
        metrics={"top1": 0.9734, "macro_f1": 0.95},
        base_weights="torchvision ImageNet-1K v1",
        base_weights_licence="BSD-3-Clause",
        training={"epochs": 12, "temperature": 1.3},
    )
    markdown, data = write_model_card(tmp_path, card)
    text = markdown.read_text(encoding="utf-8")
    assert "| chequered-triangle | 12 | 2 | 0 |" in text
    assert "| **total** | 90 | 12 | 10 |" in text
    assert "- top1: 0.9734" in text
    assert "torchvision ImageNet-1K v1" in text
    assert "BSD-3-Clause" in text
    assert "## Intended use" in text
    assert "## Limits" in text
    stored = json.loads(data.read_text(encoding="utf-8"))
    assert stored["dataset_id"] == "d-42"
    assert stored["counts"]["test"] == {"disc": 6, "striped-square": 4}
    assert stored["base_weights_licence"] == "BSD-3-Clause"
