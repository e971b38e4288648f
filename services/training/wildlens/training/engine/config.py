"""How one model is trained: everything a job's hyperparameters say, with the defaults a
camera-trap classifier trains well with."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from wildlens.training.engine.architectures import ARCHITECTURES
from wildlens.training.engine.balance import Balance
from wildlens.training.engine.transforms import IMAGENET_MEAN, IMAGENET_STD, Normalisation

__all__ = ["TrainingConfig"]


@dataclass(frozen=True)
class TrainingConfig:
    architecture: str = "mobilenet_v3_large"
    input_size: int = 224
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    optimizer: Literal["adamw", "sgd"] = "adamw"
    # SGD's momentum (AdamW ignores it).
    momentum: float = 0.9
    balance: Balance = "sampler"
    label_smoothing: float = 0.0
    # Epochs without a better validation macro-F1 before training stops.
    patience: int = 5
    augment: bool = True
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    seed: int = 0
    # At most this many steps per epoch (None: the whole training split).
    max_steps_per_epoch: int | None = None
    # DataLoader worker processes decoding crops (0: in the training process). They are forked
    # with the samples' loaders and the reader, which must work in a child process.
    workers: int = 0
    # "cuda", "cpu", ...; None: CUDA where there is one.
    device: str | None = None
    # float16 autocast with gradient scaling, on CUDA only (CPU always trains in float32).
    mixed_precision: bool = True

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {self.architecture!r}; "
                f"choose one of {', '.join(ARCHITECTURES)}"
            )
        for name in ("input_size", "epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2 (batch normalisation needs two)")
        if self.learning_rate <= 0:
            raise ValueError("learning_rate must be positive")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError("max_steps_per_epoch must be at least 1")

    @property
    def normalisation(self) -> Normalisation:
        return Normalisation(self.input_size, self.mean, self.std)

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint must agree on to be resumed (where it runs may change)."""
        values = asdict(self)
        for name in ("workers", "device", "mixed_precision"):
            values.pop(name)
        values["mean"], values["std"] = list(self.mean), list(self.std)
        return values
