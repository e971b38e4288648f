"""The detector training engine: torchvision FCOS detectors trained on whole frames with their
confirmed boxes, exported to ONNX through a wrapper whose outputs inference's ``generic``
decoder reads, and checked against torch before they become a bundle."""

from wildlens.training.engine.detection.data import FrameDataset, FrameSample, letterboxed
from wildlens.training.engine.detection.export import (
    BOX_TOLERANCE,
    SCORE_TOLERANCE,
    DetectorParity,
    DetectorParityError,
    ServedDetector,
    check_detector_parity,
    export_detector_onnx,
)
from wildlens.training.engine.detection.model import build_detector
from wildlens.training.engine.detection.predict import Predictions, predict
from wildlens.training.engine.detection.trainer import (
    DetectorConfig,
    DetectorResult,
    DetectorTrainer,
)

__all__ = [
    "BOX_TOLERANCE",
    "SCORE_TOLERANCE",
    "DetectorConfig",
    "DetectorParity",
    "DetectorParityError",
    "DetectorResult",
    "DetectorTrainer",
    "FrameDataset",
    "FrameSample",
    "Predictions",
    "ServedDetector",
    "build_detector",
    "check_detector_parity",
    "export_detector_onnx",
    "letterboxed",
    "predict",
]
