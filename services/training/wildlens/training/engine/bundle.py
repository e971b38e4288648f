"""A trained classifier as the bundle inference loads: ``model.onnx`` and its manifest with the
input size and normalisation it was trained with, the labels, and the fitted temperature; and
the whole way there in one call (export, parity on the test split, bundle)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from wildlens.common.bundles import Bundle, LabelSpec, write_bundle
from wildlens.training.engine.export import Parity, check_parity, export_onnx
from wildlens.training.engine.samples import Reader, Sample
from wildlens.training.engine.transforms import Normalisation

__all__ = ["ExportedBundle", "export_bundle", "write_classifier_bundle"]


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


@dataclass(frozen=True)
class ExportedBundle:
    bundle: Bundle
    parity: Parity


def export_bundle(
    model: nn.Module,
    folder: Path,
    test: Sequence[Sample],
    *,
    name: str,
    version: str,
    labels: Sequence[LabelSpec | str],
    norm: Normalisation,
    read: Reader | None = None,
    temperature: float = 1.0,
    metrics: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> ExportedBundle:
    """Export ``model``, check the export on the ``test`` samples and write the bundle; the
    parity figures go into the manifest's ``training``.

    Raises:
        ParityError: the export differs from torch by more than the tolerance; nothing is
            written.
    """
    onnx = export_onnx(model, norm.size)
    parity = check_parity(model, onnx, test, norm, read=read)
    facts = {
        **dict(training or {}),
        "onnx_parity": {"max_difference": parity.max_difference, "images": parity.images},
    }
    bundle = write_classifier_bundle(
        folder,
        onnx,
        name=name,
        version=version,
        labels=labels,
        norm=norm,
        temperature=temperature,
        metrics=metrics,
        training=facts,
    )
    return ExportedBundle(bundle, parity)
