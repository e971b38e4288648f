"""What an evaluation is given: the test samples (true classes, locations, events, each class's
taxonomic lineage) and a model's probabilities over the same classes, checked once here so
that every figure is computed on arrays of known shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from wildlens.common.errors import Invalid

__all__ = [
    "Classes",
    "EvaluationError",
    "Labels",
    "Lineage",
    "Probabilities",
    "Samples",
    "as_probabilities",
    "softmax",
]

Probabilities = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]
Classes = npt.NDArray[np.int64]

# A row of probabilities may be off 1 by rounding (float32 softmax, ONNX outputs); more than
# this means the caller passed logits or scores.
ROW_SUM_TOLERANCE = 1e-3


class EvaluationError(Invalid):
    """The inputs cannot be evaluated (no samples, shapes that disagree, not probabilities)."""


class Lineage(BaseModel):
    """A class's names up the tree; ``None`` at the ranks below the class (a class that is a
    genus has no species) or where the taxonomy does not say."""

    model_config = ConfigDict(frozen=True)

    species: str | None = None
    genus: str | None = None
    family: str | None = None


@dataclass(frozen=True, init=False)
class Samples:
    """The held-out samples: per sample its true class index, location and event (sequence)
    id; per class its name and lineage. A sample without an event is an event of its own."""

    labels: Labels
    class_names: tuple[str, ...]
    locations: tuple[str | None, ...]
    events: tuple[str | None, ...]
    lineages: tuple[Lineage, ...]

    def __init__(
        self,
        labels: Sequence[int] | npt.NDArray[np.integer],
        class_names: Sequence[str],
        locations: Sequence[str | None],
        events: Sequence[str | None],
        lineages: Sequence[Lineage] | None = None,
    ) -> None:
        array = np.asarray(labels)
        if array.ndim != 1:
            raise EvaluationError(f"labels must be one class index per sample, got {array.shape}")
        if array.size == 0:
            raise EvaluationError("nothing to evaluate: the test split has no samples")
        if not np.issubdtype(array.dtype, np.integer):
            raise EvaluationError(f"labels must be class indexes (integers), got {array.dtype}")
        if not class_names:
            raise EvaluationError("nothing to evaluate: no classes")
        if len(set(class_names)) != len(class_names):
            raise EvaluationError("class names must be unique")
        if array.min() < 0 or array.max() >= len(class_names):
            raise EvaluationError(
                f"labels must lie in 0..{len(class_names) - 1} (one per class name), "
                f"got {array.min()}..{array.max()}"
            )
        n = len(array)
        for what, values in (("locations", locations), ("events", events)):
            if len(values) != n:
                raise EvaluationError(f"{what} has {len(values)} entries for {n} samples")
        lineages = lineages if lineages is not None else [Lineage() for _ in class_names]
        if len(lineages) != len(class_names):
            raise EvaluationError(
                f"lineages has {len(lineages)} entries for {len(class_names)} classes"
            )
        object.__setattr__(self, "labels", array.astype(np.int64))
        object.__setattr__(self, "class_names", tuple(class_names))
        object.__setattr__(self, "locations", tuple(locations))
        object.__setattr__(self, "events", tuple(events))
        object.__setattr__(self, "lineages", tuple(lineages))

    def __len__(self) -> int:
        return len(self.labels)


def as_probabilities(
    values: npt.ArrayLike, samples: Samples, what: str = "probabilities"
) -> Probabilities:
    """``values`` as an (samples x classes) float array of probabilities, or a clear error."""
    array = np.asarray(values, dtype=np.float64)
    shape = (len(samples), len(samples.class_names))
    if array.shape != shape:
        raise EvaluationError(
            f"{what} must have shape {shape} (samples x classes), got {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise EvaluationError(f"{what} must be finite")
    if array.min() < 0:
        raise EvaluationError(f"{what} must not be negative (logits? use softmax)")
    worst = float(np.abs(array.sum(axis=1) - 1).max())
    if worst > ROW_SUM_TOLERANCE:
        raise EvaluationError(
            f"each row of {what} must sum to 1 (logits? use softmax); off by {worst:.3g}"
        )
    return array


def softmax(logits: npt.ArrayLike, temperature: float = 1.0) -> Probabilities:
    """Probabilities from logits divided by ``temperature``, stable for large logits."""
    if not temperature > 0:
        raise EvaluationError(f"the temperature must be positive, got {temperature}")
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    result: Probabilities = exp / exp.sum(axis=-1, keepdims=True)
    return result
