"""On generated crops of three shapes, each with its own texture, the engine learns to tell them
apart: at least 95 % top-1 on held-out crops, as served by inference from the bundle it writes,
while it reports every step and epoch with a time left that runs down."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.support.shapes import SHAPE_LABELS
from tests.training.engine.conftest import samples
from wildlens.inference.classification.classifier import Classifier
from wildlens.training.engine import (
    Progress,
    Trainer,
    TrainingConfig,
    export_bundle,
)


def test_the_engine_learns_the_shapes_and_the_served_bundle_gets_them_right(
    tmp_path: Path,
) -> None:
    data = samples({"train": 60, "validation": 15, "test": 30})
    config = TrainingConfig(
        architecture="resnet18", input_size=32, epochs=6, batch_size=16, learning_rate=1e-3
    )
    reported: list[Progress] = []
    result = Trainer(config, len(SHAPE_LABELS), data, on_progress=reported.append).fit()

    epochs = [p for p in reported if p.event == "epoch"]
    assert [p.epoch for p in epochs] == list(range(1, result.epochs_run + 1))
    assert all(p.validation is not None and p.eta_seconds is not None for p in epochs)
    assert epochs[-1].eta_seconds == 0
    steps = [p for p in reported if p.event == "step"]
    assert len(steps) == result.epochs_run * steps[0].steps
    assert all(p.loss > 0 and p.samples_per_second > 0 for p in steps)
    assert result.best_validation is not None
    assert result.best_validation.macro_f1 >= 0.9

    test = [s for s in data if s.split == "test"]
    exported = export_bundle(
        result.model,
        tmp_path / "shapes",
        test,
        name="shapes",
        version="1",
        labels=list(SHAPE_LABELS),
        norm=config.normalisation,
    )
    assert exported.parity.images == 90
    assert exported.bundle.manifest.training["onnx_parity"]["images"] == 90
    crops = [
        Image.open(io.BytesIO(sample.crop())).convert("RGB")  # type: ignore[operator]
        for sample in test
    ]
    predicted = Classifier(exported.bundle).classify(crops).argmax(axis=1)
    truth = np.array([s.label for s in test])
    assert (predicted == truth).mean() >= 0.95
