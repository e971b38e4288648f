"""A detector loaded from a checkpoint, ready to export: what the bundle's manifest needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wildlens.common.bundles import DecoderName

__all__ = ["LoadedDetector"]


@dataclass(frozen=True)
class LoadedDetector:
    # The torch module in its export form: one output tensor in the decoder's layout.
    module: Any
    decoder: DecoderName
    # Class names by index, as the checkpoint names them.
    labels: list[str]
    # The input size it was trained at, where the checkpoint says; else None.
    trained_size: int | None
    # The largest stride: the input size must be a multiple of it.
    max_stride: int
    # Written to the manifest's ``training``: where the model came from.
    facts: dict[str, Any]


def names_list(names: Any) -> list[str]:
    """Class names from a checkpoint's ``names`` (a dict by index, or a list)."""
    if isinstance(names, dict):
        return [str(names[i]) for i in sorted(names)]
    return [str(n) for n in names]


def size_of(value: Any) -> int | None:
    """An input size from training arguments (640, or [640, 640])."""
    if isinstance(value, int | float) and value > 0:
        return int(value)
    if isinstance(value, list | tuple) and value and isinstance(value[0], int | float):
        return int(max(value))
    return None
