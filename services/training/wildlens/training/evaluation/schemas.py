"""The evaluation report as it is stored with a model and served: plain JSON, every figure a
number in [0, 1] or a count, every rule that decides a figure written beside it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from wildlens.training.evaluation.inputs import Lineage

__all__ = [
    "Calibration",
    "ClassMetrics",
    "EvaluationReport",
    "EventAccuracy",
    "FiguresDifference",
    "GroupAccuracy",
    "LevelAccuracy",
    "ModelFigures",
    "PriorEffect",
    "ReliabilityBin",
    "TaxonomicLevel",
]

TaxonomicLevel = Literal["species", "genus", "family"]


class ClassMetrics(BaseModel):
    name: str
    precision: float
    recall: float
    f1: float
    # Test samples of this class.
    support: int
    # Test samples the model gave this class (right or wrong).
    predicted: int
    # Why a figure is a convention rather than a measurement: "never predicted: precision 0 by
    # convention", "absent from the test split: recall 0 by convention".
    note: str | None = None


class GroupAccuracy(BaseModel):
    # The location's id (``None``: samples without one).
    key: str | None
    samples: int
    correct: int
    accuracy: float


class EventAccuracy(BaseModel):
    events: int
    correct: int
    accuracy: float
    # Events whose images do not all show the same true class.
    mixed_events: int
    rule: str


class LevelAccuracy(BaseModel):
    level: TaxonomicLevel
    # Samples whose true class names a taxon at this level (a genus-level class has no species).
    samples: int
    correct: int
    # ``None`` when no sample's class names a taxon at this level.
    accuracy: float | None


class ReliabilityBin(BaseModel):
    # The bin holds the samples whose confidence (top-1 probability) is in (lower, upper].
    lower: float
    upper: float
    samples: int
    # ``None`` for an empty bin.
    accuracy: float | None
    confidence: float | None


class Calibration(BaseModel):
    # Expected calibration error over equal-width confidence bins:
    # sum over bins of (samples in bin / samples) · |accuracy in bin - mean confidence in bin|.
    ece: float
    bins: list[ReliabilityBin]
    # The temperature fitted on the validation split by minimising the negative log-likelihood
    # (``None`` when no validation logits were given), and the test figures after dividing the
    # logits by it.
    temperature: float | None = None
    ece_after_temperature: float | None = None
    bins_after_temperature: list[ReliabilityBin] | None = None


class PriorEffect(BaseModel):
    top1_without: float
    top1_with: float
    top5_with: float
    macro_f1_with: float
    # top1_with - top1_without.
    top1_gain: float


class ModelFigures(BaseModel):
    samples: int
    top1: float
    # Top-k accuracy with k = min(5, classes): ``top5_k`` says which k.
    top5: float
    top5_k: int
    balanced_accuracy: float
    macro_f1: float
    # The classes macro-F1 averages over: those in the test split or predicted at least once.
    macro_f1_classes: int
    classes: list[ClassMetrics]
    # Counts: rows are the true classes, columns the predicted classes, both in ``class_names``
    # order.
    confusion_matrix: list[list[int]]
    locations: list[GroupAccuracy]
    events: EventAccuracy
    taxonomic_levels: list[LevelAccuracy]
    calibration: Calibration
    prior: PriorEffect | None = None


class FiguresDifference(BaseModel):
    """Challenger minus champion: positive where the challenger is better, except ``ece``,
    where negative is better."""

    top1: float
    top5: float
    balanced_accuracy: float
    macro_f1: float
    ece: float
    # Per class name, the challenger's F1 minus the champion's.
    f1: dict[str, float]
    # Per taxonomic level, where both have a figure.
    taxonomic_levels: dict[str, float]
    events: float


class EvaluationReport(BaseModel):
    class_names: list[str]
    lineages: list[Lineage]
    samples: int
    # Test samples per class, in ``class_names`` order.
    support: list[int]
    challenger: ModelFigures
    # The model serving now, on the same samples; ``None`` where none serves.
    champion: ModelFigures | None = None
    difference: FiguresDifference | None = None
    better_than_champion: bool
    # Why ``better_than_champion`` is what it is, in words.
    decision: str
    # Conventions that decided figures (classes never predicted, absent from the split).
    notes: list[str]
