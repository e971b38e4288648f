"""The training run the platform installs: the classifier or detector run, as the job's kind
says, where torch is installed (the ``torch`` extra, which training workers' images carry),
else a run that fails each job saying what to install, so that the worker goes on and the API
still serves."""

from __future__ import annotations

import importlib.util

from wildlens.common.errors import Unavailable
from wildlens.common.service.context import ServiceContext
from wildlens.training.jobs.run import JobSpec, Progress, TrainedModel, TrainingRun

__all__ = ["ByKind", "NoTorchRun", "installed_run"]


class NoTorchRun:
    """Fails every job: this process cannot train."""

    async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
        await progress.log(f"training job {job.id}: {job.architecture}, seed {job.seed}")
        raise Unavailable(
            "this training worker cannot train: torch and torchvision are not installed "
            "(pip install 'wildlens-training[torch]')"
        )


class ByKind:
    """The run of each job's kind."""

    def __init__(self, runs: dict[str, TrainingRun]) -> None:
        self.runs = runs

    async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
        return await self.runs[job.kind].run(job, progress)


def installed_run(ctx: ServiceContext) -> TrainingRun:
    """The run training workers of this process use."""
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchvision") is None:
        return NoTorchRun()
    from wildlens.training.jobs.classifier_run import ClassifierRun
    from wildlens.training.jobs.combined_run import CombinedRun
    from wildlens.training.jobs.detector_run import DetectorRun

    return ByKind(
        {
            "classifier": ClassifierRun(ctx),
            "detector": DetectorRun(ctx),
            "combined": CombinedRun(ctx),
        }
    )
