"""A model's probabilities over its own classes, rearranged onto the test split's classes, so
that the model serving now can be scored on a dataset whose classes differ from its own."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from wildlens.training.evaluation.inputs import EvaluationError, Probabilities

__all__ = ["align_classes"]


def align_classes(
    probabilities: npt.ArrayLike, their_classes: Sequence[str], class_names: Sequence[str]
) -> Probabilities:
    """Columns reordered by class name onto ``class_names``.

    A class the model lacks gets probability 0; a class the model has and the test split does
    not is dropped and each row renormalised: the model is scored as if restricted to the
    dataset's classes, as inference restricts a model to a project's taxa. A row with all its
    probability on dropped classes becomes uniform (its top-1 is then the first class).
    """
    values = np.asarray(probabilities, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(their_classes):
        raise EvaluationError(
            f"probabilities must have one column per class of the model ({len(their_classes)}), "
            f"got {values.shape}"
        )
    column = {name: i for i, name in enumerate(their_classes)}
    if not any(name in column for name in class_names):
        raise EvaluationError("the model knows none of the test split's classes")
    aligned = np.zeros((values.shape[0], len(class_names)))
    for j, name in enumerate(class_names):
        if name in column:
            aligned[:, j] = values[:, column[name]]
    total = aligned.sum(axis=1, keepdims=True)
    uniform = np.full_like(aligned, 1.0 / len(class_names))
    result: Probabilities = np.where(total > 0, aligned / np.where(total > 0, total, 1), uniform)
    return result
