"""Features and pixels together: a single object's morphometric features (named numbers) in
a random forest, alone and beside an image classifier's probabilities, exported to ONNX and
compared with the pixels alone on the same test split (scikit-learn and skl2onnx; no torch)."""

from wildlens.training.features.bundle import add_features_model
from wildlens.training.features.compare import Comparison, Fitted, Scores, Split, fit_and_compare
from wildlens.training.features.forest import FOREST_PARITY_TOLERANCE, ForestParity, forest_onnx
from wildlens.training.features.table import FeatureTable

__all__ = [
    "FOREST_PARITY_TOLERANCE",
    "Comparison",
    "FeatureTable",
    "Fitted",
    "ForestParity",
    "Scores",
    "Split",
    "add_features_model",
    "fit_and_compare",
    "forest_onnx",
]
