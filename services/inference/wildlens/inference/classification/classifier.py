"""The species classifier: square crops in, one probability per label out, calibrated by the
bundle's temperature."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

from wildlens.common.bundles import BundleError, as_probabilities
from wildlens.common.imaging import preprocess
from wildlens.inference.models.base import InferenceModel

__all__ = ["Classifier", "as_probabilities"]

Probabilities = npt.NDArray[np.float64]


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
