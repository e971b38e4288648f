"""Pixels alone, features alone and both together, fitted on the same objects and scored on
the same test objects.

The combined model is a random forest over the image classifier's calibrated probabilities
followed by the object's features: the image model's answer is one more (strong) feature,
and the trees learn where size or shape settles what the pixels leave open. Both forests are
fitted on the train and validation splits (the image model never trained on validation, and
early stopping keeps it from learning the train split by heart); all three are scored on the
test objects that carry features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from wildlens.common.errors import Invalid
from wildlens.training.features.forest import fit_forest
from wildlens.training.features.table import Features, FeatureTable

__all__ = ["Comparison", "Fitted", "Scores", "Split", "fit_and_compare"]


@dataclass(frozen=True)
class Split:
    """Objects of one split: the image model's probabilities ``[N, classes]``, each object's
    features (None: none) and its class index."""

    probabilities: npt.NDArray[np.float64]
    features: Sequence[Features]
    labels: Sequence[int]

    def with_features(self) -> Split:
        kept = [n for n, row in enumerate(self.features) if row]
        return Split(
            self.probabilities[kept],
            [self.features[n] for n in kept],
            [self.labels[n] for n in kept],
        )


@dataclass(frozen=True)
class Scores:
    """Top-1 accuracy and, per class, precision, recall, F1 and support."""

    accuracy: float
    per_class: dict[str, dict[str, float]]

    @classmethod
    def of(
        cls, labels: Sequence[int], predicted: npt.NDArray[np.int64], classes: list[str]
    ) -> Scores:
        indices = list(range(len(classes)))
        precision, recall, f1, support = precision_recall_fscore_support(
            list(labels), predicted, labels=indices, zero_division=0
        )
        return cls(
            float(accuracy_score(list(labels), predicted)),
            {
                name: {
                    "precision": float(precision[i]),
                    "recall": float(recall[i]),
                    "f1": float(f1[i]),
                    "support": float(support[i]),
                }
                for i, name in enumerate(classes)
            },
        )

    def as_json(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "per_class": self.per_class}


@dataclass(frozen=True)
class Comparison:
    """The three models on the same test objects."""

    image: Scores
    features: Scores
    combined: Scores
    test_objects: int
    test_objects_without_features: int
    fitted_on: int
    feature_names: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "image": self.image.as_json(),
            "features": self.features.as_json(),
            "combined": self.combined.as_json(),
            "test_objects": self.test_objects,
            "test_objects_without_features": self.test_objects_without_features,
            "fitted_on_objects": self.fitted_on,
            "feature_names": self.feature_names,
        }


@dataclass(frozen=True)
class Fitted:
    table: FeatureTable
    features_model: RandomForestClassifier
    combined_model: RandomForestClassifier
    comparison: Comparison
    # The combined model's inputs for the test objects, to check its export on.
    combined_test_inputs: npt.NDArray[np.float32]
    features_test_inputs: npt.NDArray[np.float32]


def combined_inputs(
    probabilities: npt.NDArray[np.float64], features: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """The combined model's row per object: the probabilities, then the features."""
    return np.concatenate([probabilities.astype(np.float32), features], axis=1)


def fit_and_compare(classes: list[str], fit: Split, test: Split, *, seed: int) -> Fitted:
    """Fit the features model and the combined one on ``fit``'s objects with features, and
    score them and the pixels alone on ``test``'s objects with features.

    Raises:
        Invalid: no object to fit on, or no test object, carries features; or a class has no
            object with features to fit on.
    """
    fitting, testing = fit.with_features(), test.with_features()
    if not fitting.labels:
        raise Invalid(
            "none of the dataset's train and validation objects carries features: a combined "
            "model needs objects imported with their features (EcoTaxa's object_* [f] columns)"
        )
    if not testing.labels:
        raise Invalid("none of the dataset's test objects carries features to compare on")
    table = FeatureTable.of(fitting.features)
    fit_features = table.matrix(fitting.features)
    test_features = table.matrix(testing.features)
    fit_labels = np.asarray(fitting.labels, dtype=np.int64)
    features_model = fit_forest(fit_features, fit_labels, len(classes), seed)
    fit_combined = combined_inputs(fitting.probabilities, fit_features)
    test_combined = combined_inputs(testing.probabilities, test_features)
    combined_model = fit_forest(fit_combined, fit_labels, len(classes), seed)
    comparison = Comparison(
        image=Scores.of(testing.labels, testing.probabilities.argmax(axis=1), classes),
        features=Scores.of(
            testing.labels, features_model.predict_proba(test_features).argmax(axis=1), classes
        ),
        combined=Scores.of(
            testing.labels, combined_model.predict_proba(test_combined).argmax(axis=1), classes
        ),
        test_objects=len(testing.labels),
        test_objects_without_features=len(test.labels) - len(testing.labels),
        fitted_on=len(fitting.labels),
        feature_names=table.names,
    )
    return Fitted(table, features_model, combined_model, comparison, test_combined, test_features)
