"""Model bundles as inference reads them: the platform's bundle format
(``wildlens.common.bundles``), shared with the model registry, which checks a bundle the same
way before it stores it."""

from wildlens.common.bundles import (
    GEOFENCE_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    Bundle,
    BundleError,
    DecoderName,
    InputSpec,
    LabelSpec,
    ModelManifest,
    Thresholds,
    file_sha256,
    load_bundle,
    write_bundle,
)

__all__ = [
    "GEOFENCE_FILE",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "Bundle",
    "BundleError",
    "DecoderName",
    "InputSpec",
    "LabelSpec",
    "ModelManifest",
    "Thresholds",
    "file_sha256",
    "load_bundle",
    "write_bundle",
]
