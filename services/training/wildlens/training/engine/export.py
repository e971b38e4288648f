"""A trained classifier to ONNX (raw logits, any batch size), and the check that the ONNX file
answers as torch does on every image of the test split before it becomes a bundle."""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from wildlens.training.engine.samples import CropDataset, Reader, Sample
from wildlens.training.engine.transforms import Normalisation, eval_transform

__all__ = ["PARITY_TOLERANCE", "Parity", "ParityError", "check_parity", "export_onnx"]

_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "images", "logits"
# Largest absolute difference of a probability between ONNX Runtime and torch.
PARITY_TOLERANCE = 1e-4


class ParityError(Exception):
    """The ONNX export's probabilities differ from torch's by more than the tolerance."""

    def __init__(self, difference: float, images: int) -> None:
        super().__init__(
            f"the ONNX export differs from the torch model by {difference:.3g} in probability "
            f"(largest absolute difference over {images} test images; at most "
            f"{PARITY_TOLERANCE:g} is accepted)"
        )
        self.difference = difference
        self.images = images


@dataclass(frozen=True)
class Parity:
    max_difference: float
    images: int
    # Where the test split is empty the check runs on random inputs instead (and says so).
    random_inputs: int = 0


def _cpu_float(model: nn.Module) -> nn.Module:
    """A float32 CPU copy in eval mode: the form served, whatever device trained it."""
    return copy.deepcopy(model).to("cpu", dtype=torch.float32).eval()


def export_onnx(model: nn.Module, size: int) -> bytes:
    """The classifier as ONNX: ``images`` ``[N, 3, size, size]`` in, ``logits`` out (inference
    applies the softmax and the bundle's temperature)."""
    served = _cpu_float(model)
    buffer = io.BytesIO()
    # The TorchScript exporter warns about its own deprecation; the export is checked against
    # torch right after, on real images.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            served,
            (torch.zeros(1, 3, size, size),),
            buffer,  # type: ignore[arg-type]  # file objects work; the annotation says paths
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=_OPSET,
            dynamo=False,
        )
    return buffer.getvalue()


def check_parity(
    model: nn.Module,
    onnx: bytes,
    samples: Sequence[Sample],
    norm: Normalisation,
    *,
    read: Reader | None = None,
    batch_size: int = 32,
) -> Parity:
    """Run torch and ONNX Runtime over ``samples`` (the test split) and compare probabilities.

    Raises:
        ParityError: the largest absolute difference exceeds ``PARITY_TOLERANCE``.
    """
    import onnxruntime

    served = _cpu_float(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    session = onnxruntime.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
    batches: list[torch.Tensor]
    random_inputs = 0
    if samples:
        loader = DataLoader(CropDataset(samples, eval_transform(norm), read), batch_size=batch_size)
        batches = [images for images, _ in loader]
    else:
        random_inputs = 4
        generator = torch.Generator().manual_seed(0)
        batches = [torch.randn(random_inputs, 3, norm.size, norm.size, generator=generator)]
    worst = 0.0
    with torch.inference_mode():
        for images in batches:
            expected = torch.softmax(served(images), dim=1).numpy().astype(np.float64)
            (logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})
            actual = torch.softmax(torch.from_numpy(logits).double(), dim=1).numpy()
            worst = max(worst, float(np.abs(actual - expected).max()))
    if worst > PARITY_TOLERANCE:
        raise ParityError(worst, len(samples))
    return Parity(max_difference=worst, images=len(samples), random_inputs=random_inputs)
