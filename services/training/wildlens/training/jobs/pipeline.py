"""The training run the platform installs: where the dataset builder, the training loop, the
evaluation and the export are put together into one :class:`TrainingRun`.

Until they are, every job fails with a clear message and the worker goes on.
"""

from __future__ import annotations

from wildlens.common.errors import Unavailable
from wildlens.common.service.context import ServiceContext
from wildlens.training.jobs.run import JobSpec, Progress, TrainedModel, TrainingRun

__all__ = ["PipelineRun", "installed_run"]


class PipelineRun:
    """Dataset → training → evaluation → export, with what the service runs with (its store,
    its database, its clients of the catalogue's API, its settings)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
        await progress.log(f"training job {job.id}: {job.architecture}, seed {job.seed}")
        raise Unavailable(
            "no training pipeline installed: this platform cannot train models yet "
            "(its dataset builder and training loop are not part of this installation)"
        )


def installed_run(ctx: ServiceContext) -> TrainingRun:
    """The run training workers of this process use."""
    return PipelineRun(ctx)
