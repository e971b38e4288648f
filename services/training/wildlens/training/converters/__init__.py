"""What people download, as model bundles: ONNX files described by flags, and YOLOv5 (MegaDetector
v5) and Ultralytics (MegaDetector v6, YOLOv8/9/11) checkpoints exported to ONNX.

Only ``wildlens models add`` imports this package; the GPL/AGPL code that checkpoints need
(``extra``) is imported only when one is converted.
"""

from wildlens.training.converters.bundle import (
    BundleOptions,
    MadeBundle,
    SourceFile,
    make_bundle,
    source_file,
)
from wildlens.training.converters.checkpoints import NotACheckpoint, family_of
from wildlens.training.converters.export import ExportMismatch
from wildlens.training.converters.extra import INSTALL, ConverterMissing

__all__ = [
    "INSTALL",
    "BundleOptions",
    "ConverterMissing",
    "ExportMismatch",
    "MadeBundle",
    "NotACheckpoint",
    "SourceFile",
    "family_of",
    "make_bundle",
    "source_file",
]
