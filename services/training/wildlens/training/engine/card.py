"""The model card published with every trained model: what it learned from, how well it does,
what it is for and where it fails, and whose weights it started from under which licence."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CARD_JSON", "CARD_MARKDOWN", "ModelCard", "write_model_card"]

CARD_MARKDOWN = "model-card.md"
CARD_JSON = "model-card.json"

_INTENDED_USE = (
    "Suggesting the species of animals that the detector found in camera-trap images of the "
    "project's own locations, for people to confirm or correct."
)
_LIMITS = (
    "Trained on crops of detected animals: it classifies what the detector boxes, and cannot "
    "say that an image is empty.",
    "Only the classes listed; an animal of any other species is given the closest of them.",
    "Measured on locations held out of training; locations, seasons or cameras unlike those "
    "in the data may do worse than the figures say.",
    "Classes with few training examples are the least reliable; see the counts per split.",
)


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    architecture: str
    dataset_id: str
    # Labels in class-index order.
    classes: Sequence[str]
    # Split -> class -> number of samples.
    counts: Mapping[str, Mapping[str, int]]
    # The evaluation's figures (on the test split unless a key says otherwise).
    metrics: Mapping[str, Any]
    # "random", or what the weights were (e.g. "torchvision ImageNet-1K v1").
    base_weights: str = "random"
    base_weights_licence: str | None = None
    split_method: str = "by location: no location in two splits"
    intended_use: str = _INTENDED_USE
    limits: Sequence[str] = _LIMITS
    # Hyperparameters and facts of the run (epochs, best epoch, input size, temperature).
    training: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["classes"] = list(self.classes)
        data["limits"] = list(self.limits)
        data["counts"] = {split: dict(per) for split, per in self.counts.items()}
        return data

    def markdown(self) -> str:
        splits = list(self.counts)
        lines = [
            f"# {self.name} {self.version}",
            "",
            f"A species classifier ({self.architecture}) trained by Wildlens.",
            "",
            "## Intended use",
            "",
            self.intended_use,
            "",
            "## Data",
            "",
            f"Dataset `{self.dataset_id}`, {len(self.classes)} classes, split {self.split_method}.",
            "",
            "| class | " + " | ".join(splits) + " |",
            "| --- | " + " | ".join("---:" for _ in splits) + " |",
        ]
        for label in self.classes:
            cells = [str(self.counts[split].get(label, 0)) for split in splits]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        totals = [str(sum(self.counts[split].values())) for split in splits]
        lines += ["| **total** | " + " | ".join(totals) + " |", "", "## Metrics", ""]
        lines += [f"- {key}: {_figure(value)}" for key, value in self.metrics.items()]
        lines += ["", "## Training", ""]
        lines.append(f"- base weights: {self.base_weights}")
        lines.append(f"- licence of the base weights: {self.base_weights_licence or 'none'}")
        lines += [f"- {key}: {_figure(value)}" for key, value in self.training.items()]
        lines += ["", "## Limits", ""]
        lines += [f"- {limit}" for limit in self.limits]
        return "\n".join(lines) + "\n"


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def write_model_card(folder: Path, card: ModelCard) -> tuple[Path, Path]:
    """``model-card.md`` and ``model-card.json`` in ``folder`` (beside the bundle's files)."""
    folder.mkdir(parents=True, exist_ok=True)
    markdown, data = folder / CARD_MARKDOWN, folder / CARD_JSON
    markdown.write_text(card.markdown(), encoding="utf-8")
    data.write_text(json.dumps(card.as_json(), indent=2) + "\n", encoding="utf-8")
    return markdown, data
