"""A classifier's scores as probabilities, calibrated by its bundle's temperature: how the
platform serves them and how training scores the model it would replace, alike."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Probabilities", "as_probabilities"]

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
