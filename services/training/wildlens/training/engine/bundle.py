"""A trained classifier as the bundle inference loads: ``model.onnx`` and its manifest with the
input size and normalisation it was trained with, the labels, and the fitted temperature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wildlens.common.bundles import Bundle, LabelSpec, write_bundle
from wildlens.training.engine.transforms import Normalisation

__all__ = ["write_classifier_bundle"]


def write_classifier_bundle(
    folder: Path,
    onnx: bytes,
    *,
    name: str,
    version: str,
    labels: Sequence[LabelSpec | str],
    norm: Normalisation,
    temperature: float = 1.0,
    metrics: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> Bundle:
    """Write the bundle into ``folder``; ``labels`` in class-index order.

    Raises:
        BundleError: the fields break the manifest schema (duplicate labels, a temperature
            that is not positive, ...).
    """
    specs = [LabelSpec(label=label) if isinstance(label, str) else label for label in labels]
    return write_bundle(
        folder,
        onnx,
        {
            "name": name,
            "version": version,
            "kind": "classifier",
            "input": norm.input_spec(),
            "labels": [spec.model_dump(exclude_none=True) for spec in specs],
            "temperature": temperature,
            "metrics": dict(metrics or {}),
            "training": dict(training or {}),
        },
    )
