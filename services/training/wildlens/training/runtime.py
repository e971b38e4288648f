"""What the training service keeps while it runs: the worker that checks and registers
uploaded model bundles, and, in processes that train, the training worker."""

from __future__ import annotations

from dataclasses import dataclass

from wildlens.common.service import ServiceContext
from wildlens.training.jobs.pipeline import installed_run
from wildlens.training.jobs.worker import TrainingJobWorker
from wildlens.training.settings import TrainingSettings
from wildlens.training.uploads.jobs import ModelUploadWorker

__all__ = ["TrainingRuntime"]


@dataclass
class TrainingRuntime:
    uploads: ModelUploadWorker
    # None where this process trains nothing (WILDLENS_TRAINING__TRAINING_JOBS=0).
    jobs: TrainingJobWorker | None

    @classmethod
    async def start(cls, ctx: ServiceContext) -> TrainingRuntime:
        # Uploads are rows; this process's worker takes completed ones, and those whose
        # process died.
        uploads = ModelUploadWorker(ctx)
        uploads.start()
        jobs: TrainingJobWorker | None = None
        concurrency = TrainingSettings.of(ctx.settings).training_jobs
        if concurrency > 0:
            jobs = TrainingJobWorker(ctx, installed_run(ctx), concurrency=concurrency)
            jobs.start()
        return cls(uploads, jobs)

    @property
    def trains(self) -> bool:
        return self.jobs is not None

    async def close(self) -> None:
        """Hand the uploads and training jobs in hand back to the queue and stop."""
        if self.jobs is not None:
            await self.jobs.stop()
        await self.uploads.stop()
