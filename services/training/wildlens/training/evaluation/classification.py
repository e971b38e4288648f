"""Figures of a classifier's top-1 decisions on the test split: top-k accuracy, precision,
recall and F1 per class, macro-F1, balanced accuracy and the confusion matrix.

Ties between classes go to the lowest class index, for top-1 (``argmax``) and top-k alike, so
that a sample's top-1 class is always among its top-k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import precision_recall_fscore_support

from wildlens.training.evaluation.inputs import Classes, Labels, Probabilities
from wildlens.training.evaluation.schemas import ClassMetrics

__all__ = [
    "NEVER_PREDICTED",
    "NOT_IN_SPLIT",
    "NOT_IN_SPLIT_PREDICTED",
    "ClassFigures",
    "balanced_accuracy",
    "class_figures",
    "predictions",
    "top_k_accuracy",
]

NEVER_PREDICTED = "never predicted: precision 0 by convention"
NOT_IN_SPLIT = "absent from the test split: recall 0 by convention, left out of the averages"
NOT_IN_SPLIT_PREDICTED = (
    "absent from the test split: recall 0 by convention; every prediction of it is wrong"
)


def predictions(probabilities: Probabilities) -> Classes:
    """Each sample's top-1 class."""
    top: Classes = np.argmax(probabilities, axis=1).astype(np.int64)
    return top


def top_k_accuracy(probabilities: Probabilities, labels: Labels, k: int) -> float:
    """The share of samples whose true class is among their ``k`` most probable (k is capped
    at the number of classes)."""
    k = max(1, min(k, probabilities.shape[1]))
    # A stable sort of the negated probabilities keeps the lowest index first among ties.
    ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(ranked == labels[:, None], axis=1)))


def balanced_accuracy(matrix: npt.NDArray[np.int64]) -> float:
    """The mean recall over the classes present in the test split."""
    support = matrix.sum(axis=1)
    present = support > 0
    recalls = np.diag(matrix)[present] / support[present]
    return float(recalls.mean())


@dataclass(frozen=True)
class ClassFigures:
    classes: list[ClassMetrics]
    confusion_matrix: npt.NDArray[np.int64]
    macro_f1: float
    macro_f1_classes: int
    balanced_accuracy: float


def class_figures(labels: Labels, predicted: Classes, class_names: tuple[str, ...]) -> ClassFigures:
    """Per-class precision, recall and F1 and their macro average.

    A class never predicted has precision 0 (not undefined), a class absent from the split
    recall 0; both say so in their ``note``. Macro-F1 averages the classes in the split or
    predicted at least once: a class predicted but absent counts (with F1 0, every prediction
    of it being wrong), a class neither present nor predicted gives no evidence and does not.
    """
    everything = list(range(len(class_names)))
    # Counted here rather than by scikit-learn, which warns on a split of one class even when
    # told every class.
    matrix = np.zeros((len(class_names), len(class_names)), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=everything, zero_division=0.0
    )
    predicted_counts = matrix.sum(axis=0)
    classes: list[ClassMetrics] = []
    for i, name in enumerate(class_names):
        note = None
        if support[i] == 0:
            note = NOT_IN_SPLIT_PREDICTED if predicted_counts[i] else NOT_IN_SPLIT
        elif predicted_counts[i] == 0:
            note = NEVER_PREDICTED
        classes.append(
            ClassMetrics(
                name=name,
                precision=float(precision[i]),
                recall=float(recall[i]),
                f1=float(f1[i]),
                support=int(support[i]),
                predicted=int(predicted_counts[i]),
                note=note,
            )
        )
    counted = (np.asarray(support) > 0) | (predicted_counts > 0)
    return ClassFigures(
        classes=classes,
        confusion_matrix=matrix,
        macro_f1=float(np.asarray(f1)[counted].mean()),
        macro_f1_classes=int(counted.sum()),
        balanced_accuracy=balanced_accuracy(matrix),
    )
