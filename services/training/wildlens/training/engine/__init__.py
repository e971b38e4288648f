"""The classifier training engine: torchvision architectures trained on crops, checkpointed
per epoch, exported to ONNX, checked against torch and written as the bundle inference loads.

It needs the ``torch`` extra (``pip install 'wildlens-training[torch]'``); only training
workers import it, so the API starts without torch.
"""

try:
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the training engine needs torch and torchvision: pip install 'wildlens-training[torch]'"
    ) from exc

from wildlens.training.engine.architectures import (
    ARCHITECTURES,
    BaseWeights,
    WeightsError,
    WeightsSource,
    build_classifier,
)
from wildlens.training.engine.balance import Balance, class_counts
from wildlens.training.engine.bundle import (
    ExportedBundle,
    export_bundle,
    write_classifier_bundle,
)
from wildlens.training.engine.card import ModelCard, write_model_card
from wildlens.training.engine.checkpoints import (
    CheckpointStore,
    FolderCheckpoints,
    checkpoint_name,
)
from wildlens.training.engine.config import TrainingConfig
from wildlens.training.engine.export import (
    PARITY_TOLERANCE,
    Parity,
    ParityError,
    check_parity,
    export_onnx,
)
from wildlens.training.engine.metrics import ValidationMetrics
from wildlens.training.engine.progress import (
    Progress,
    ProgressCallback,
    StopCheck,
    TrainingCancelled,
)
from wildlens.training.engine.samples import CropDataset, Reader, Sample, Split
from wildlens.training.engine.trainer import CheckpointMismatch, Trainer, TrainingResult
from wildlens.training.engine.transforms import Normalisation, eval_transform, train_transform

__all__ = [
    "ARCHITECTURES",
    "PARITY_TOLERANCE",
    "Balance",
    "BaseWeights",
    "CheckpointMismatch",
    "CheckpointStore",
    "CropDataset",
    "ExportedBundle",
    "FolderCheckpoints",
    "ModelCard",
    "Normalisation",
    "Parity",
    "ParityError",
    "Progress",
    "ProgressCallback",
    "Reader",
    "Sample",
    "Split",
    "StopCheck",
    "Trainer",
    "TrainingCancelled",
    "TrainingConfig",
    "TrainingResult",
    "ValidationMetrics",
    "WeightsError",
    "WeightsSource",
    "build_classifier",
    "check_parity",
    "checkpoint_name",
    "class_counts",
    "eval_transform",
    "export_bundle",
    "export_onnx",
    "train_transform",
    "write_classifier_bundle",
    "write_model_card",
]
