"""Calibration: how far a model's confidence is from how often it is right, and the
temperature that brings them together.

The expected calibration error (ECE) is the standard one (Naeini et al. 2015; Guo et al. 2017):
confidence is the top-1 probability; the samples fall into equal-width bins (lower, upper]
(the first bin also holds a confidence of exactly 0); ECE = Σ (bin's samples / samples) ·
|bin's accuracy - bin's mean confidence|.

Temperature scaling divides the logits by one scalar T > 0 fitted on the validation split by
minimising the negative log-likelihood. The NLL is convex in 1/T, hence unimodal in log T, so a
bounded Brent search on log T (scipy's ``minimize_scalar``) finds its minimum without gradients.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar

from wildlens.training.evaluation.inputs import EvaluationError, Labels, Probabilities, softmax
from wildlens.training.evaluation.schemas import Calibration, ReliabilityBin

__all__ = [
    "BINS",
    "calibrated",
    "calibration_figures",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "reliability_bins",
]

BINS = 15
# The temperatures searched: far beyond what a trained network needs either way.
LOWEST_TEMPERATURE = 0.01
HIGHEST_TEMPERATURE = 100.0
# Probabilities of 0 (float underflow) as logarithms: finite, and far below any real logit gap.
SMALLEST_PROBABILITY = 1e-300


def reliability_bins(
    probabilities: Probabilities, labels: Labels, bins: int = BINS
) -> list[ReliabilityBin]:
    """The samples by confidence in ``bins`` equal-width bins over [0, 1]."""
    confidence = probabilities.max(axis=1)
    correct = np.argmax(probabilities, axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds (edges[i], edges[i + 1]]: searchsorted on the left side of the upper edges.
    index = np.clip(np.searchsorted(edges[1:], confidence, side="left"), 0, bins - 1)
    result: list[ReliabilityBin] = []
    for i in range(bins):
        members = index == i
        count = int(members.sum())
        result.append(
            ReliabilityBin(
                lower=float(edges[i]),
                upper=float(edges[i + 1]),
                samples=count,
                accuracy=float(correct[members].mean()) if count else None,
                confidence=float(confidence[members].mean()) if count else None,
            )
        )
    return result


def expected_calibration_error(
    probabilities: Probabilities, labels: Labels, bins: int = BINS
) -> float:
    return _ece(reliability_bins(probabilities, labels, bins), len(labels))


def _ece(bins: list[ReliabilityBin], samples: int) -> float:
    return float(
        sum(
            b.samples / samples * abs(b.accuracy - b.confidence)
            for b in bins
            if b.accuracy is not None and b.confidence is not None
        )
    )


def calibrated(probabilities: Probabilities, temperature: float) -> Probabilities:
    """The probabilities the same logits give divided by ``temperature``: a row's log
    probabilities are its logits less one constant, which softmax ignores."""
    return softmax(np.log(np.maximum(probabilities, SMALLEST_PROBABILITY)), temperature)


def calibration_figures(
    probabilities: Probabilities, labels: Labels, temperature: float | None = None
) -> Calibration:
    """ECE and reliability bins, and the same after ``temperature`` where there is one."""
    if temperature is None:
        return Calibration(
            ece=expected_calibration_error(probabilities, labels),
            bins=reliability_bins(probabilities, labels),
        )
    scaled = calibrated(probabilities, temperature)
    return Calibration(
        ece=expected_calibration_error(probabilities, labels),
        bins=reliability_bins(probabilities, labels),
        temperature=temperature,
        ece_after_temperature=expected_calibration_error(scaled, labels),
        bins_after_temperature=reliability_bins(scaled, labels),
    )


def negative_log_likelihood(
    logits: npt.NDArray[np.float64], labels: Labels, temperature: float
) -> float:
    """The mean NLL of the true classes under softmax(logits / temperature)."""
    scaled = logits / temperature
    top = scaled.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(scaled - top).sum(axis=1))
    return float(np.mean(log_norm - scaled[np.arange(len(labels)), labels]))


def fit_temperature(logits: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """The temperature T > 0 minimising the validation NLL of softmax(logits / T).

    Args:
        logits: (samples x classes) validation logits, before any softmax.
        labels: each validation sample's true class index.
    """
    values = np.asarray(logits, dtype=np.float64)
    truth = np.asarray(labels)
    if values.ndim != 2 or values.shape[0] == 0:
        raise EvaluationError(
            f"no temperature without validation logits (samples x classes), got {values.shape}"
        )
    if truth.shape != (values.shape[0],) or not np.issubdtype(truth.dtype, np.integer):
        raise EvaluationError("validation labels must be one class index per logit row")
    if truth.min() < 0 or truth.max() >= values.shape[1]:
        raise EvaluationError(f"validation labels must lie in 0..{values.shape[1] - 1}")
    if not np.all(np.isfinite(values)):
        raise EvaluationError("validation logits must be finite")
    truth = truth.astype(np.int64)
    found = minimize_scalar(
        lambda log_t: negative_log_likelihood(values, truth, math.exp(log_t)),
        bounds=(math.log(LOWEST_TEMPERATURE), math.log(HIGHEST_TEMPERATURE)),
        method="bounded",
        options={"xatol": 1e-7},
    )
    return float(math.exp(found.x))
