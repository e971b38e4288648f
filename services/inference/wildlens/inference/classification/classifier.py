"""The species classifier: square crops in, one probability per label out, calibrated by the
bundle's temperature; where the bundle carries a features model (``features.onnx``), the
probabilities of objects that come with features are combined with them."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from PIL import Image

from wildlens.common.bundles import FEATURES_FILE, BundleError, as_probabilities
from wildlens.common.imaging import preprocess
from wildlens.inference.models.base import InferenceModel

__all__ = ["Classifier", "as_probabilities"]

Probabilities = npt.NDArray[np.float64]
# An object's features by name; None or empty: it has none.
Features = Mapping[str, float] | None


class Classifier(InferenceModel):
    kind = "classifier"
    # The features model's session, created on first use (tree ensembles run on the CPU).
    _features_session: ort.InferenceSession | None = None
    _features_lock = threading.Lock()

    @property
    def combines_features(self) -> bool:
        """Whether the bundle combines pixels with features."""
        return self.manifest.features is not None

    def classify(
        self, crops: Sequence[Image.Image], features: Sequence[Features] | None = None
    ) -> Probabilities:
        """Probabilities ``[len(crops), len(labels)]``, in the order given; all crops go through
        the session in runs of at most the batch size. ``features``: each crop's object's
        features (None for none), used where the bundle has a features model; a crop without
        them keeps the pixels' probabilities. Blocking: run it in an executor."""
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
        probabilities = np.concatenate(rows)
        if features is not None and self.combines_features:
            probabilities = self.combine(probabilities, features)
        return probabilities

    def combine(self, probabilities: Probabilities, features: Sequence[Features]) -> Probabilities:
        """The features model's answer for each row that has features; the other rows as
        they are (pixels alone)."""
        spec = self.manifest.features
        if spec is None:
            return probabilities
        chosen = [n for n, found in enumerate(features) if found]
        if not chosen:
            return probabilities
        table = np.empty((len(chosen), len(spec.names)), dtype=np.float32)
        for row, n in enumerate(chosen):
            found = features[n] or {}
            table[row] = [
                float(found.get(name, fill))
                for name, fill in zip(spec.names, spec.fill, strict=True)
            ]
        inputs = np.concatenate([probabilities[chosen].astype(np.float32), table], axis=1)
        session = self._features()
        outputs = session.run(None, {session.get_inputs()[0].name: inputs})
        combined = np.asarray(outputs[-1], dtype=np.float64)
        if combined.shape != (len(chosen), probabilities.shape[1]):
            raise BundleError(
                f"the features model of {self.name} answers {combined.shape}, not one "
                f"probability per label for each of {len(chosen)} objects"
            )
        result = probabilities.copy()
        result[chosen] = combined
        return result

    def _features(self) -> ort.InferenceSession:
        if self._features_session is None:
            with self._features_lock:
                if self._features_session is None:
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = 1
                    self._features_session = ort.InferenceSession(
                        str(self.bundle.root / FEATURES_FILE),
                        sess_options=options,
                        providers=["CPUExecutionProvider"],
                    )
        return self._features_session
