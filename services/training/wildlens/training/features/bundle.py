"""A classifier bundle made a combined one: the features model's ONNX file beside the image
model, and the manifest naming the features, their stand-ins and the file's hash."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wildlens.common.bundles import FEATURES_FILE, MODEL_FILE, Bundle, load_bundle, write_bundle
from wildlens.training.features.table import FeatureTable

__all__ = ["add_features_model"]


def add_features_model(
    folder: Path,
    onnx: bytes,
    table: FeatureTable,
    *,
    name: str | None = None,
    metrics: Mapping[str, float] | None = None,
    training: Mapping[str, Any] | None = None,
) -> Bundle:
    """Write ``onnx`` as ``features.onnx`` into the classifier bundle in ``folder`` and its
    manifest anew (renamed ``name``, with ``metrics`` and ``training`` added). Blocking."""
    (folder / FEATURES_FILE).write_bytes(onnx)
    manifest = load_bundle(folder).manifest
    fields: dict[str, Any] = manifest.model_dump(mode="json", exclude={"sha256"})
    if name:
        fields["name"] = name
    fields["metrics"] = {**manifest.metrics, **(metrics or {})}
    fields["training"] = {**manifest.training, **(training or {})}
    fields["features"] = {
        "names": table.names,
        "fill": table.fill,
        "sha256": hashlib.sha256(onnx).hexdigest(),
    }
    return write_bundle(folder, folder / MODEL_FILE, fields)
