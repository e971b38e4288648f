"""A random forest fitted on a table of numbers, and its ONNX export checked against it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import RandomForestClassifier

from wildlens.common.errors import Invalid

__all__ = ["FOREST_PARITY_TOLERANCE", "ForestParity", "fit_forest", "forest_onnx"]

# Tree thresholds are float32 in both: the two agree to rounding.
FOREST_PARITY_TOLERANCE = 1e-4
# The opsets onnxruntime 1.x runs (TreeEnsembleClassifier of ai.onnx.ml 3).
_OPSETS = {"": 17, "ai.onnx.ml": 3}


@dataclass(frozen=True)
class ForestParity:
    """The largest difference between the ONNX export's probabilities and scikit-learn's."""

    max_difference: float
    rows: int


def fit_forest(
    table: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], classes: int, seed: int
) -> RandomForestClassifier:
    """A random forest on ``table``; every class must be among ``labels``, so that its
    probabilities have one column per class.

    Raises:
        Invalid: a class has no row to learn from.
    """
    missing = sorted(set(range(classes)) - {int(v) for v in labels})
    if missing:
        raise Invalid(
            f"classes {missing} have no object with features to fit the features model on; "
            "import their objects with features, or leave those classes out"
        )
    forest = RandomForestClassifier(
        n_estimators=200, min_samples_leaf=2, random_state=seed, n_jobs=1
    )
    forest.fit(table, labels)
    return forest


def forest_onnx(
    forest: RandomForestClassifier, check: npt.NDArray[np.float32]
) -> tuple[bytes, ForestParity]:
    """The forest as ONNX (one float input ``[N, columns]``, probabilities as its last
    output), and how far it strays from scikit-learn on the rows of ``check``.

    Raises:
        Invalid: the export differs by more than :data:`FOREST_PARITY_TOLERANCE`.
    """
    import onnxruntime as ort
    from skl2onnx import to_onnx

    columns = int(forest.n_features_in_)
    model = to_onnx(
        forest,
        np.zeros((1, columns), dtype=np.float32),
        options={id(forest): {"zipmap": False}},
        target_opset=_OPSETS,
    )
    data = model.SerializeToString()
    parity = ForestParity(0.0, len(check))
    if len(check):
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        exported = np.asarray(
            session.run(None, {session.get_inputs()[0].name: check.astype(np.float32)})[-1]
        )
        expected = forest.predict_proba(check.astype(np.float32))
        parity = ForestParity(float(np.abs(exported - expected).max()), len(check))
    if parity.max_difference > FOREST_PARITY_TOLERANCE:
        raise Invalid(
            f"the features model's ONNX export differs from scikit-learn by "
            f"{parity.max_difference:.2e} (at most {FOREST_PARITY_TOLERANCE:.0e} allowed)"
        )
    return data, parity
