"""Training jobs as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wildlens.common.http.errors import ErrorBody
from wildlens.training.architectures import (
    ARCHITECTURES,
    DETECTOR_ARCHITECTURES,
    Architecture,
    DetectorArchitecture,
    JobArchitecture,
)
from wildlens.training.jobs.label_specs import check_label_spec

__all__ = [
    "ARCHITECTURES",
    "DETECTOR_ARCHITECTURES",
    "Architecture",
    "BaseWeights",
    "DetectorArchitecture",
    "Hyperparameters",
    "JobKind",
    "TrainingJobCreate",
    "TrainingJobPublic",
    "TrainingJobStatus",
]

# classifier: names the animal in a detector's crop; detector: finds and boxes the animals
# of a whole frame; combined: a classifier of single objects (plankton vignettes) that
# combines its pixels' probabilities with the objects' features in a tree model.
JobKind = Literal["classifier", "detector", "combined"]
# queued: waiting for a training worker; running: a worker has it; then one of the three ends.
TrainingJobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
# An object key a job may read weights from: under weights/, no way out of it.
_WEIGHTS_KEY = r"^weights/[A-Za-z0-9][A-Za-z0-9._/-]{0,250}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hyperparameters(_Strict):
    epochs: int = Field(default=30, ge=1, le=1000, description="Epochs at most.")
    batch_size: int = Field(default=64, ge=1, le=4096)
    learning_rate: float = Field(default=1e-3, gt=0, le=10)
    image_size: int = Field(default=224, ge=32, le=1024, description="Square input, pixels.")
    patience: int = Field(
        default=5,
        ge=0,
        le=1000,
        description="Epochs without a better validation macro-F1 "
        "before it stops early; 0: never stops early.",
    )
    balance: Literal["sampler", "loss", "none"] = Field(
        default="sampler",
        description="Rare classes seen as often as common ones (sampler), weighted in the "
        "loss (loss), or neither.",
    )


class NoWeights(_Strict):
    kind: Literal["none"] = Field(description="Random weights.")


class FileWeights(_Strict):
    kind: Literal["file"]
    path: str = Field(
        min_length=1,
        max_length=1000,
        description="A weights file in the folder the platform allows "
        "(WILDLENS_TRAINING__WEIGHTS_DIR), relative to it or absolute.",
    )


class ObjectWeights(_Strict):
    kind: Literal["object"]
    key: str = Field(
        pattern=_WEIGHTS_KEY, description="A weights file in object storage, under weights/."
    )

    @field_validator("key")
    @classmethod
    def _no_parent(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise ValueError("may not hold '..'")
        return value


class ModelWeights(_Strict):
    kind: Literal["model"]
    model_id: uuid.UUID = Field(
        description="A classifier trained here (the project's, or a global one): training goes "
        "on from its weights, and it is the new model's parent."
    )


BaseWeights = Annotated[
    NoWeights | FileWeights | ObjectWeights | ModelWeights, Field(discriminator="kind")
]


class TrainingJobCreate(_Strict):
    project_id: uuid.UUID = Field(description="The project whose confirmed labels it trains on.")
    label_spec: dict[str, Any] = Field(
        description="Which taxa become which classes (MegaDetector's label_spec.json shape: "
        "include, merge, rename, exclude, roll up, minimum and maximum examples per class)."
    )
    kind: JobKind = Field(
        default="classifier",
        description="What it trains: a classifier on crops of the confirmed boxes, a "
        "detector on the whole frames with their confirmed boxes, or a combined classifier of "
        "single objects: the image classifier, a random forest on the objects' features, and "
        "one on both (the image's probabilities with the features), all three evaluated on the "
        "same test split; the combined one is the model registered.",
    )
    architecture: JobArchitecture = Field(
        description="A classifier's torchvision architecture, or a detector's (fcos_*)."
    )
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    base_weights: BaseWeights = Field(
        default_factory=lambda: NoWeights(kind="none"), description="What it starts from."
    )
    seed: int = Field(
        default=0, ge=0, le=2**31 - 1, description="Makes the split and the run repeatable."
    )

    @field_validator("label_spec")
    @classmethod
    def _label_spec(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_label_spec(value)

    @model_validator(mode="after")
    def _architecture_of_kind(self) -> TrainingJobCreate:
        wanted = DETECTOR_ARCHITECTURES if self.kind == "detector" else ARCHITECTURES
        if self.architecture not in wanted:
            raise ValueError(
                f"a {self.kind} job trains one of {', '.join(wanted)}, not {self.architecture}"
            )
        if self.kind == "detector" and isinstance(self.base_weights, ModelWeights):
            raise ValueError(
                "a detector job starts from random weights or a weights file, not from a model"
            )
        return self


class TrainingJobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    status: TrainingJobStatus
    kind: JobKind
    architecture: JobArchitecture
    hyperparameters: Hyperparameters
    base_weights: BaseWeights
    seed: int
    label_spec: dict[str, Any]
    epoch: int = Field(description="The last epoch finished (0 before the first).")
    epochs: int = Field(description="Epochs it runs at most.")
    loss: float | None = Field(description="Training loss of the last epoch.")
    metrics: dict[str, Any] = Field(description="Validation metrics of the last epoch.")
    eta_s: float | None = Field(description="Seconds it expects to need still, while running.")
    log_tail: list[str] = Field(description="Its most recent log lines, oldest first.")
    cancel_requested: bool
    model_id: uuid.UUID | None = Field(description="The candidate it registered, once succeeded.")
    problem: ErrorBody | None = Field(description="Why it failed, once failed.")
    attempts: int = Field(description="Workers that took it (more than one: a worker died).")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None
