"""Model layer: bundles, execution providers, preprocessing, output decoders and the detector."""

from wildlens.common.bundles import (
    Bundle,
    BundleError,
    InputSpec,
    LabelSpec,
    ModelManifest,
    RawDetection,
    Thresholds,
    decode,
    load_bundle,
    write_bundle,
)
from wildlens.common.imaging import Letterbox, preprocess, preprocess_batch
from wildlens.inference.models.detector import Detection, Detector
from wildlens.inference.models.providers import (
    ProviderUnavailable,
    choose_providers,
    create_session,
)

__all__ = [
    "Bundle",
    "BundleError",
    "Detection",
    "Detector",
    "InputSpec",
    "LabelSpec",
    "Letterbox",
    "ModelManifest",
    "ProviderUnavailable",
    "RawDetection",
    "Thresholds",
    "choose_providers",
    "create_session",
    "decode",
    "load_bundle",
    "preprocess",
    "preprocess_batch",
    "write_bundle",
]
