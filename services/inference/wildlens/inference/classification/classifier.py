"""The species classifier: square crops in, one probability per label out, calibrated by the
bundle's temperature."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

from wildlens.common.bundles import BundleError
from wildlens.inference.models.base import InferenceModel
from wildlens.inference.models.preprocess import preprocess

__all__ = ["Classifier", "as_probabilities"]

Probabilities = npt.NDArray[np.float64]


def as_probabilities(scores: npt.NDArray[np.generic], temperature: float = 1.0) -> Probabilities:
    """Rows of scores as probabilities: kept where they already are (a softmax inside the
    graph), else the softmax of the logits. Exported classifiers come both ways, and a softmax
    applied twice would flatten every answer towards uniform.

    ``temperature`` divides the logits before the softmax (calibration); probabilities from a
    softmax inside the graph get the same, as their logarithms are those logits up to a
    constant per row.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return values
    sums = values.sum(axis=1)
    if values.min() >= 0.0 and values.max() <= 1.0 and np.allclose(sums, 1.0, atol=1e-3):
        if temperature == 1.0:
            result: Probabilities = values / sums[:, None]
            return result
        with np.errstate(divide="ignore"):
            values = np.log(values)
    shifted = np.exp((values - values.max(axis=1, keepdims=True)) / temperature)
    softmax: Probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    return softmax


class Classifier(InferenceModel):
    kind = "classifier"

    def classify(self, crops: Sequence[Image.Image]) -> Probabilities:
        """Probabilities ``[len(crops), len(labels)]``, in the order given; all crops go through
        the session in runs of at most the batch size. Blocking: run it in an executor."""
        labels = len(self.manifest.labels)
        if not crops:
            return np.zeros((0, labels), dtype=np.float64)
        spec = self.manifest.input
        rows: list[Probabilities] = []
        for chunk in self._chunks(len(crops)):
            batch = np.stack([preprocess(crop, spec)[0] for crop in crops[chunk]])
            outputs = self._run(batch)
            scores = np.asarray(next(iter(outputs.values())))
            scores = scores.reshape(scores.shape[0], -1)
            if scores.shape[1] != labels:
                raise BundleError(
                    f"classifier {self.name} answers {scores.shape[1]} scores per crop but its "
                    f"manifest lists {labels} labels"
                )
            rows.append(as_probabilities(scores, self.manifest.temperature))
        return np.concatenate(rows)
