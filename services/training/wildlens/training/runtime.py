"""What the training service keeps while it runs: the worker that checks and registers
uploaded model bundles."""

from __future__ import annotations

from dataclasses import dataclass

from wildlens.common.service import ServiceContext
from wildlens.training.uploads.jobs import ModelUploadWorker

__all__ = ["TrainingRuntime"]


@dataclass
class TrainingRuntime:
    uploads: ModelUploadWorker

    @classmethod
    async def start(cls, ctx: ServiceContext) -> TrainingRuntime:
        # Uploads are rows; this process's worker takes completed ones, and those whose
        # process died.
        uploads = ModelUploadWorker(ctx)
        uploads.start()
        return cls(uploads)

    async def close(self) -> None:
        """Hand the upload in hand back to the queue and stop."""
        await self.uploads.stop()
