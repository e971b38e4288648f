"""Model bundles: ``model.onnx`` and its manifest ``wildlens-model.json``, the format in which
models reach inference, whoever made them; and the checks every bundle passes."""

from wildlens.common.bundles._bundle import (
    FEATURES_FILE,
    GEOFENCE_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    Bundle,
    BundleError,
    DecoderName,
    FeatureModel,
    InputSpec,
    LabelSpec,
    ModelManifest,
    Thresholds,
    file_sha256,
    load_bundle,
    parse_manifest,
    write_bundle,
)
from wildlens.common.bundles._decoders import DecodeConfig, RawDetection, decode, nms
from wildlens.common.bundles._onnx import check_onnx_file
from wildlens.common.bundles._scores import Probabilities, as_probabilities

__all__ = [
    "FEATURES_FILE",
    "GEOFENCE_FILE",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "Bundle",
    "BundleError",
    "DecodeConfig",
    "DecoderName",
    "FeatureModel",
    "InputSpec",
    "LabelSpec",
    "ModelManifest",
    "Probabilities",
    "RawDetection",
    "Thresholds",
    "as_probabilities",
    "check_onnx_file",
    "decode",
    "file_sha256",
    "load_bundle",
    "nms",
    "parse_manifest",
    "write_bundle",
]
