"""The evaluation report of a classifier on its test split: a pure library on numpy arrays.

``evaluate`` takes the test samples (``Samples``: true classes, locations, events, each
class's lineage) and the trained model's probabilities, optionally with the spatiotemporal
prior, validation logits to fit a temperature on, and the serving model's probabilities on the
same samples, and returns an ``EvaluationReport`` (JSON with ``model_dump(mode="json")``).
``plots`` draws it as PNGs, ``report_files`` gives both as the files stored with the model,
``headline`` the figures the registry lists. ``inputs`` checks what comes in;
``classification``, ``calibration`` and ``groups`` compute the figures; ``schemas`` is the
report's shape.

Errors: ``EvaluationError`` (an ``Invalid``) for inputs that cannot be evaluated.
"""

from __future__ import annotations

from wildlens.training.evaluation.alignment import align_classes
from wildlens.training.evaluation.calibration import (
    calibrated,
    expected_calibration_error,
    fit_temperature,
)
from wildlens.training.evaluation.evaluate import evaluate, model_figures
from wildlens.training.evaluation.inputs import EvaluationError, Lineage, Samples, softmax
from wildlens.training.evaluation.plots import PLOTS, plots
from wildlens.training.evaluation.schemas import EvaluationReport, ModelFigures
from wildlens.training.evaluation.stored import REPORT_FILE, headline, report_files

__all__ = [
    "PLOTS",
    "REPORT_FILE",
    "EvaluationError",
    "EvaluationReport",
    "Lineage",
    "ModelFigures",
    "Samples",
    "align_classes",
    "calibrated",
    "evaluate",
    "expected_calibration_error",
    "fit_temperature",
    "headline",
    "model_figures",
    "plots",
    "report_files",
    "softmax",
]
