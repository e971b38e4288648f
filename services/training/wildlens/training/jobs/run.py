"""The pluggable step a training job runs, and what it is given and gives back.

A training worker calls :meth:`TrainingRun.run` with the job (:class:`JobSpec`) and a
:class:`Progress` to report through; the run builds the dataset, trains, evaluates and exports,
and answers a :class:`TrainedModel`: the bundle in a local folder, its evaluation report and
plots. The worker registers that model as a candidate (``registry.service.register_candidate``)
in the transaction that ends the job succeeded, so a job is succeeded exactly when its
candidate exists. Whatever the run raises ends the job failed with the error's message (a
:class:`~wildlens.common.errors.WildlensError`'s body as it is); the worker goes on with the
next job. Cancelling a job cancels the task its run is in (``asyncio.CancelledError`` at its
next ``await``): a run that blocks for long between awaits (a training loop in a thread)
checks :attr:`Progress.cancelled` between batches.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wildlens.training.jobs.schemas import BaseWeights, Hyperparameters

__all__ = ["JobSpec", "Progress", "TrainedModel", "TrainingRun"]


@dataclass(frozen=True)
class JobSpec:
    """A training job as its run sees it."""

    id: uuid.UUID
    project_id: uuid.UUID
    created_by: str
    # As the request gave it; wildlens.training.datasets.label_spec parses it in full.
    label_spec: dict[str, Any]
    architecture: str
    hyperparameters: Hyperparameters
    base_weights: BaseWeights
    seed: int
    # How many workers have taken it, this one included: more than 1 means a worker died and
    # the run resumes from its last checkpoint where it has one.
    attempt: int
    # A scratch folder for this attempt, removed once the job has ended: the bundle goes here.
    workdir: Path
    # Where base_weights {"kind": "file"} resolves to, checked to lie in the allowed folder.
    weights_path: Path | None = None
    # What it trains: "classifier", "detector" or "combined".
    kind: str = "classifier"


class Progress(Protocol):
    """Where a run says how far it got; each call is written to the job's row (and renews
    the worker's hold on the job)."""

    async def epoch(
        self,
        epoch: int,
        *,
        loss: float | None = None,
        metrics: Mapping[str, Any] | None = None,
        eta_s: float | None = None,
    ) -> None:
        """An epoch ended: its number (from 1), training loss, validation metrics, and the
        seconds it expects to need still."""

    async def log(self, *lines: str) -> None:
        """Lines for the job's log tail (the most recent are kept)."""

    @property
    def cancelled(self) -> bool:
        """Whether the job was asked to stop (for runs that block between awaits)."""


@dataclass(frozen=True)
class TrainedModel:
    """What a run made: a bundle exactly as inference loads it, and its evaluation.

    Args:
        bundle_dir: a folder with ``model.onnx`` and ``wildlens-model.json`` (in the job's
            ``workdir``, which the worker removes after registering it).
        dataset_id: the dataset it was trained and evaluated on.
        report: the evaluation report, stored as JSON and served by
            ``GET /v1/models/{id}/evaluation``; None: not evaluated (registered, but never
            promoted until it is).
        plots: PNG images by name (``confusion_matrix``, ``reliability``...), served as
            ``GET /v1/models/{id}/evaluation/{name}.png``.
        metrics: headline figures (top1, macro_f1...) for the registry and ``model.trained``.
        parent_model_id: the registered model it was fine-tuned from, if any.
        weights: the trained network's weights (a torch state dict), kept with the model so
            that a later job can go on from them.
    """

    bundle_dir: Path
    dataset_id: uuid.UUID
    report: dict[str, Any] | None
    plots: Mapping[str, bytes] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    parent_model_id: uuid.UUID | None = None
    weights: bytes | None = None


class TrainingRun(Protocol):
    """The work of one training job."""

    async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
        """Build the dataset, train, evaluate and export; raise to fail the job."""
