"""A loaded detector to ONNX, checked against torch before it is bundled."""

from __future__ import annotations

import io
import warnings
from typing import Any

from wildlens.common.bundles import DecoderName
from wildlens.training.converters.extra import ConverterMissing, import_torch

__all__ = ["ExportMismatch", "check_against_torch", "export_onnx"]

_OPSET = 17
# Float32 both ways; fused convolutions differ by rounding only.
_TOLERANCE = 1e-2
_INPUT_AXES = {0: "batch", 2: "height", 3: "width"}
# Where the output's count of candidate boxes sits, which grows with the input; an
# end-to-end head keeps a fixed number.
_CANDIDATES_AXIS: dict[str, int] = {"megadetector-v5": 1, "yolov8": 2}


class ExportMismatch(Exception):
    """The exported graph does not compute what the checkpoint computes."""


def export_onnx(module: Any, width: int, height: int, decoder: DecoderName) -> bytes:
    """The module as ONNX (``images`` in, ``output0`` out), any batch size, traced at ``width``
    x ``height``. The input's height and width stay free, so inference can
    letterbox each image to the smallest stride-multiple rectangle that holds it, as
    Ultralytics' own exporter does with ``dynamic=True``; the head must then compute its grids
    from the input (the loaders set YOLO heads' ``dynamic``)."""
    torch = import_torch()
    buffer = io.BytesIO()
    output_axes = {0: "batch"}
    if decoder in _CANDIDATES_AXIS:
        output_axes[_CANDIDATES_AXIS[decoder]] = "candidates"
    # The TorchScript exporter warns about its own deprecation and about tracing constants
    # (shapes fixed at export); the output is compared with torch's right after.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(1, 3, height, width),),
            buffer,
            input_names=["images"],
            output_names=["output0"],
            dynamic_axes={"images": _INPUT_AXES, "output0": output_axes},
            opset_version=_OPSET,
            dynamo=False,
        )
    return buffer.getvalue()


def check_against_torch(module: Any, onnx: bytes, width: int, height: int) -> float:
    """Run both on the same two images; the largest difference relative to the output's scale.

    Raises:
        ExportMismatch: they differ by more than rounding.
    """
    torch = import_torch()
    try:
        import numpy as np
        import onnxruntime
    except ImportError as exc:
        raise ConverterMissing(
            "checking the exported model needs onnxruntime; install the converters extra"
        ) from exc
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, height, width, generator=generator)
    with torch.no_grad():
        expected = module(images)
    if isinstance(expected, list | tuple):
        expected = expected[0]
    session = onnxruntime.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"images": images.numpy()})
    expected_array = expected.numpy()
    if actual.shape != expected_array.shape:
        raise ExportMismatch(f"ONNX output {actual.shape}, torch output {expected_array.shape}")
    scale = float(np.abs(expected_array).max()) or 1.0
    difference = float(np.abs(actual - expected_array).max()) / scale
    if difference > _TOLERANCE:
        raise ExportMismatch(
            f"the ONNX export differs from the checkpoint by {difference:.3%} of its output range"
        )
    return difference
