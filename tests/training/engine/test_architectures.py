"""Every architecture a job can ask for trains a step, exports to ONNX with any batch size and
answers as torch does; weights come from a file or bytes, never from the network."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
import torchvision
from torch import nn

from tests.training.engine.conftest import samples
from wildlens.training.engine import (
    ARCHITECTURES,
    Trainer,
    TrainingConfig,
    WeightsError,
    build_classifier,
    check_parity,
    export_onnx,
)

SIZE = 32


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_each_architecture_trains_a_step_exports_and_passes_parity(architecture: str) -> None:
    data = samples({"train": 2, "validation": 1, "test": 2})
    config = TrainingConfig(
        architecture=architecture, input_size=SIZE, epochs=1, batch_size=2, max_steps_per_epoch=1
    )
    steps: list[int] = []
    result = Trainer(
        config, 3, data, on_progress=lambda p: steps.append(p.step) if p.event == "step" else None
    ).fit()
    assert steps == [1]
    assert result.epochs_run == 1

    onnx = export_onnx(result.model, SIZE)
    parity = check_parity(
        result.model, onnx, [s for s in data if s.split == "test"], config.normalisation
    )
    assert parity.images == 6
    assert parity.max_difference <= 1e-4
    # Any batch size: the batch axis is dynamic.
    session = onnxruntime.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"images": np.zeros((5, 3, SIZE, SIZE), dtype=np.float32)})
    assert logits.shape == (5, 3)


def test_imagenet_shaped_weights_from_a_file_keep_the_body_and_get_a_new_head(
    tmp_path: Path,
) -> None:
    torch.manual_seed(1)
    published = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(published.state_dict(), path)

    model, base = build_classifier("resnet18", 4, path)
    assert base.source == "resnet18-imagenet.pth"
    assert not base.head_kept
    head, stem = model.get_submodule("fc"), model.get_submodule("conv1")
    assert isinstance(head, nn.Linear)
    assert isinstance(stem, nn.Conv2d)
    assert head.out_features == 4
    torch.testing.assert_close(stem.weight, published.conv1.weight)


def test_a_checkpoint_with_the_same_classes_keeps_its_head_whether_file_or_bytes() -> None:
    parent, _ = build_classifier("mobilenet_v3_small", 3)
    buffer = io.BytesIO()
    torch.save({"epoch": 7, "model": parent.state_dict()}, buffer)

    for source in (buffer.getvalue(), buffer.getvalue):
        model, base = build_classifier("mobilenet_v3_small", 3, source)
        assert base.head_kept
        assert base.source == "bytes"
        for name, tensor in parent.state_dict().items():
            torch.testing.assert_close(model.state_dict()[name], tensor)


def test_weights_of_another_architecture_are_refused_with_the_reason() -> None:
    other, _ = build_classifier("resnet18", 3)
    buffer = io.BytesIO()
    torch.save(other.state_dict(), buffer)
    with pytest.raises(WeightsError, match=r"do not fit EfficientNet.*another architecture"):
        build_classifier("efficientnet_b0", 3, buffer.getvalue())
    with pytest.raises(WeightsError, match="cannot be read as a PyTorch state dict"):
        build_classifier("resnet18", 3, b"not a checkpoint")


def test_an_unknown_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'vit_b_16'; choose one of"):
        TrainingConfig(architecture="vit_b_16")
