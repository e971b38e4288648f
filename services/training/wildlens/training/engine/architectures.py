"""The torchvision classifiers a job can train, built with random weights or from a weights file,
their head sized for the dataset's classes. Nothing is ever downloaded: torchvision is always
asked for ``weights=None`` and published weights come as a file or bytes the caller brings."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from wildlens.training.architectures import ARCHITECTURES

__all__ = [
    "ARCHITECTURES",
    "BaseWeights",
    "WeightsError",
    "WeightsSource",
    "build_classifier",
    "head_name",
    "state_dict_of",
]


# A local file, the bytes of one (read from an object store by the caller), or a callable that
# reads them only when the model is built.
WeightsSource = Path | bytes | Callable[[], bytes]

# Keys under which checkpoints of common trainers (and this engine's own) keep the weights.
_CHECKPOINT_KEYS = ("model", "state_dict", "model_state_dict", "best_model")


class WeightsError(ValueError):
    """A weights file cannot be read, or does not fit the architecture."""


@dataclass(frozen=True)
class BaseWeights:
    """What the model started from, for its model card."""

    # "random", or where the weights came from (a file name, "bytes").
    source: str
    tensors_loaded: int
    # False where the file's classifier head had another number of classes and was replaced.
    head_kept: bool


def head_name(model: nn.Module) -> str:
    """The qualified name of the final linear layer the classes are read from."""
    if isinstance(getattr(model, "fc", None), nn.Linear):
        return "fc"
    classifier = getattr(model, "classifier", None)
    if isinstance(classifier, nn.Sequential) and isinstance(classifier[-1], nn.Linear):
        return f"classifier.{len(classifier) - 1}"
    raise WeightsError(f"{type(model).__name__} has no classifier head this engine knows")


def _read(source: WeightsSource) -> tuple[bytes, str]:
    if isinstance(source, Path):
        try:
            return source.read_bytes(), source.name
        except OSError as exc:
            raise WeightsError(f"the weights file {source} cannot be read: {exc}") from exc
    if isinstance(source, bytes):
        return source, "bytes"
    return source(), "bytes"


def state_dict_of(data: bytes, where: str = "the weights") -> dict[str, torch.Tensor]:
    """The tensors of a torchvision state dict, or of a checkpoint that holds one.

    Only plain data is unpickled (``weights_only``): a checkpoint that pickles whole modules
    runs code when loaded and is refused; save its ``state_dict()`` instead.
    """
    try:
        loaded: Any = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"{where} cannot be read as a PyTorch state dict ({exc}); a checkpoint that "
            "pickles a whole model must be saved as model.state_dict() first"
        ) from exc
    if isinstance(loaded, Mapping):
        for key in _CHECKPOINT_KEYS:
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise WeightsError(f"{where} holds no state dict (a mapping of names to tensors)")
    # Weights saved from DataParallel / DistributedDataParallel carry a ``module.`` prefix.
    return {str(k).removeprefix("module."): v for k, v in loaded.items()}


def _load(model: nn.Module, tensors: Mapping[str, torch.Tensor], where: str) -> BaseWeights:
    own = model.state_dict()
    head = head_name(model) + "."
    mismatched = [
        k for k, v in tensors.items() if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    wrong_body = [k for k in mismatched if not k.startswith(head)]
    missing = [k for k in own if k not in tensors and not k.startswith(head)]
    unexpected = [k for k in tensors if k not in own]
    if wrong_body or missing or unexpected:
        problems = [
            f"{label}: {', '.join(keys[:4])}{' …' if len(keys) > 4 else ''}"
            for label, keys in (
                ("shapes differ", wrong_body),
                ("missing", missing),
                ("not in the model", unexpected),
            )
            if keys
        ]
        raise WeightsError(
            f"{where} do not fit {type(model).__name__} ({'; '.join(problems)}); "
            "are they for another architecture?"
        )
    # The head is replaced where it was trained for another number of classes (ImageNet's
    # 1000); kept where it fits (a parent model trained on the same labels).
    usable = {k: v for k, v in tensors.items() if k not in mismatched}
    head_kept = not any(k.startswith(head) for k in mismatched) and all(
        k in usable for k in own if k.startswith(head)
    )
    model.load_state_dict(usable, strict=False)
    return BaseWeights(source=where, tensors_loaded=len(usable), head_kept=head_kept)


def build_classifier(
    architecture: str, classes: int, weights: WeightsSource | None = None
) -> tuple[nn.Module, BaseWeights]:
    """The architecture with a head of ``classes`` outputs (raw logits).

    Args:
        architecture: one of ``ARCHITECTURES``.
        classes: how many labels the model tells apart (at least 2).
        weights: where to start from; random weights where None.

    Raises:
        WeightsError: the weights cannot be read or are for another architecture.
        ValueError: an unknown architecture or fewer than 2 classes.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}"
        )
    if classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {classes}")
    model: nn.Module = torchvision.models.get_model(architecture, weights=None, num_classes=classes)
    if weights is None:
        return model, BaseWeights(source="random", tensors_loaded=0, head_kept=False)
    data, where = _read(weights)
    label = f"the weights in {where}" if where != "bytes" else "the weights given"
    report = _load(model, state_dict_of(data, label), label)
    return model, BaseWeights(
        source=where, tensors_loaded=report.tensors_loaded, head_kept=report.head_kept
    )
