"""Training workers: take training jobs, run them, and write their progress and outcome.

The job's row is the queue (:mod:`wildlens.common.jobs`); ``training.requested`` on the
training workers' own queue wakes one of them as soon as a job is created, and every worker
also looks every few seconds, so a job is taken even when its event is lost, and a job whose
worker died (its lease lapsed) is taken over by another. The work is the pluggable
:class:`~wildlens.training.jobs.run.TrainingRun`; whatever it raises ends that job failed and
the worker goes on. A job asked to stop is interrupted (its run's task cancelled) and ends
cancelled. A process that stops cleanly hands its jobs back; the next worker resumes them
(from their last checkpoint, where the run keeps one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db import utcnow
from wildlens.common.errors import WildlensError
from wildlens.common.jobs import LeasedWorker, LeaseLost, queries
from wildlens.common.service.context import ServiceContext
from wildlens.training.jobs import repository
from wildlens.training.jobs.run import JobSpec, TrainedModel, TrainingRun
from wildlens.training.jobs.schemas import FileWeights, TrainingJobCreate
from wildlens.training.jobs.service import weights_file
from wildlens.training.models import TrainingJob
from wildlens.training.registry import service as registry
from wildlens.training.registry.objects import staged_objects
from wildlens.training.registry.receive import local_bundle
from wildlens.training.settings import TrainingSettings

__all__ = ["JobProgress", "TrainingJobWorker"]

log = structlog.get_logger(__name__)


def _json(value: Mapping[str, Any]) -> dict[str, Any]:
    """As the JSON column will hold it (numpy floats and the like as plain numbers)."""
    loaded: dict[str, Any] = json.loads(json.dumps(dict(value), default=float))
    return loaded


def _problem(error: BaseException) -> dict[str, Any]:
    if isinstance(error, WildlensError):
        return error.body()
    return {"error": "TrainingFailed", "detail": f"{type(error).__name__}: {error}"}


class JobProgress:
    """A running job's :class:`~wildlens.training.jobs.run.Progress`: each report is
    written to its row while this worker holds it (:class:`LeaseLost` where it does not)."""

    def __init__(self, worker: TrainingJobWorker, job: TrainingJob, tail_lines: int) -> None:
        self._worker = worker
        self._job_id = job.id
        self._tail = list(job.log_tail)[-tail_lines:]
        self._tail_lines = tail_lines
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        self._cancelled = True

    async def epoch(
        self,
        epoch: int,
        *,
        loss: float | None = None,
        metrics: Mapping[str, Any] | None = None,
        eta_s: float | None = None,
    ) -> None:
        values: dict[str, Any] = {"epoch": epoch, "updated_at": utcnow()}
        if loss is not None:
            values["loss"] = float(loss)
        if metrics is not None:
            values["metrics"] = _json(metrics)
        values["eta_s"] = None if eta_s is None else max(0.0, float(eta_s))
        await self._worker.hold(self._job_id, **values)

    async def log(self, *lines: str) -> None:
        self._tail = [*self._tail, *(line.rstrip("\n") for line in lines)][-self._tail_lines :]
        await self._worker.hold(self._job_id, log_tail=list(self._tail), updated_at=utcnow())

    @property
    def tail(self) -> list[str]:
        return list(self._tail)


class TrainingJobWorker(LeasedWorker):
    """Takes queued training jobs and runs them, in one training process."""

    name = "training_job"
    id_field = "job_id"
    # A run reports at least once an epoch; the lease is renewed meanwhile too.
    lease = timedelta(seconds=120)
    renew_every_s = 30.0
    poll_s = 10.0
    # A job that took its worker down three times (out of memory, say) is not tried again.
    max_attempts = 3
    claim_batch = 4
    table = TrainingJob
    # How often a running job's row is read for a cancel.
    cancel_poll_s = 2.0

    def __init__(self, ctx: ServiceContext, run: TrainingRun, *, concurrency: int = 1) -> None:
        super().__init__(ctx.database, ctx.instance)
        self.run = run
        self.concurrency = concurrency
        self.store = ctx.store
        self.bus = ctx.service_bus
        self.settings = TrainingSettings.of(ctx.settings)

    async def take(self, session: AsyncSession, job_id: uuid.UUID, now: datetime) -> bool:
        return await queries.take(
            session,
            self.table,
            job_id,
            now,
            self.owner,
            now + self.lease,
            started_at=now,
            updated_at=now,
        )

    async def give_up(
        self, session: AsyncSession, job_id: uuid.UUID, now: datetime, attempts: int
    ) -> bool:
        if not await self.take(session, job_id, now):
            return False
        await self._finish(
            session,
            job_id,
            status="failed",
            problem={
                "error": "Unavailable",
                "detail": f"its training worker stopped {attempts} times while running it "
                "(out of memory, or the node went away); giving up: start a new job, maybe "
                "with a smaller batch size or image size",
            },
        )
        return True

    async def _finish(self, session: AsyncSession, job_id: uuid.UUID, **values: object) -> None:
        """End the job this process holds with ``values`` (its status and outcome)."""
        now = utcnow()
        held = await self.update_held(
            session,
            job_id,
            finished_at=now,
            updated_at=now,
            eta_s=None,
            lease_owner="",
            lease_expires_at=None,
            **values,
        )
        if not held:
            raise LeaseLost(f"training job {job_id} was taken over")

    async def _end(self, job_id: uuid.UUID, **values: object) -> None:
        async with self.db.transaction() as session:
            await self._finish(session, job_id, **values)

    def _spec(self, job: TrainingJob, workdir: Path) -> JobSpec:
        # Checked when the job was created; checked again, as the folder may have changed.
        request = TrainingJobCreate.model_validate(
            {
                "project_id": job.project_id,
                "label_spec": job.label_spec,
                "kind": job.kind,
                "architecture": job.architecture,
                "hyperparameters": job.hyperparameters,
                "base_weights": job.base_weights,
                "seed": job.seed,
            }
        )
        weights = request.base_weights
        return JobSpec(
            id=job.id,
            project_id=job.project_id,
            created_by=job.created_by,
            label_spec=request.label_spec,
            architecture=request.architecture,
            kind=request.kind,
            hyperparameters=request.hyperparameters,
            base_weights=weights,
            seed=request.seed,
            attempt=job.attempts,
            workdir=workdir,
            weights_path=(
                weights_file(self.settings, weights.path)
                if isinstance(weights, FileWeights)
                else None
            ),
        )

    async def _cancel_requested(self, job_id: uuid.UUID) -> None:
        """Returns once the job has been asked to stop."""
        while True:
            await asyncio.sleep(self.cancel_poll_s)
            try:
                async with self.db.transaction() as session:
                    job = await repository.get(session, job_id)
            except Exception:
                # The database away for a moment stops no training; the next look sees.
                log.warning("training_job.cancel_check_failed", job_id=str(job_id))
                continue
            if job is None or job.cancel_requested:
                return

    async def work(self, job_id: uuid.UUID) -> None:
        async with self.db.transaction() as session:
            job = await repository.get(session, job_id)
        if job is None:
            return
        progress = JobProgress(self, job, self.settings.log_tail_lines)
        if job.cancel_requested:
            await self._end(job_id, status="cancelled", log_tail=progress.tail)
            return
        log.info("training_job.started", job_id=str(job_id), attempt=job.attempts)
        with tempfile.TemporaryDirectory(prefix=f"wildlens-training-{job_id}-") as folder:
            try:
                spec = self._spec(job, Path(folder))
                trained = await self._train(spec, progress)
            except (LeaseLost, asyncio.CancelledError):
                raise
            except Exception as error:
                await self._fail(job_id, progress, error)
                return
            if trained is None:
                log.info("training_job.cancelled", job_id=str(job_id))
                await progress.log("cancelled")
                await self._end(job_id, status="cancelled")
                return
            try:
                model_id = await self._register(job, trained)
            except (LeaseLost, asyncio.CancelledError):
                raise
            except Exception as error:
                await self._fail(job_id, progress, error)
                return
        log.info("training_job.succeeded", job_id=str(job_id), model_id=str(model_id))

    async def _train(self, spec: JobSpec, progress: JobProgress) -> TrainedModel | None:
        """The run's model; None when the job was cancelled first."""
        running = asyncio.create_task(self.run.run(spec, progress), name=f"training-run-{spec.id}")
        watching = asyncio.create_task(
            self._cancel_requested(spec.id), name=f"training-cancel-{spec.id}"
        )
        try:
            done, _ = await asyncio.wait({running, watching}, return_when=asyncio.FIRST_COMPLETED)
            if running in done:
                return running.result()
            progress.cancel()
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
            return None
        finally:
            for task in (running, watching):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _fail(self, job_id: uuid.UUID, progress: JobProgress, error: Exception) -> None:
        problem = _problem(error)
        log.warning("training_job.failed", job_id=str(job_id), detail=problem["detail"])
        # The log tail says it too, where people follow the job.
        with contextlib.suppress(LeaseLost):
            await progress.log(f"failed: {problem['detail']}")
        await self._end(job_id, status="failed", problem=problem)

    async def _register(self, job: TrainingJob, trained: TrainedModel) -> uuid.UUID:
        """Register the candidate and end the job succeeded, in one transaction."""
        async with (
            local_bundle(trained.bundle_dir) as bundle,
            staged_objects(self.store) as objects,
            self.db.transaction() as session,
        ):
            model = await registry.register_candidate(
                session,
                objects,
                self.bus,
                bundle,
                project_id=job.project_id,
                job_id=job.id,
                requested_by=job.created_by,
                dataset_id=trained.dataset_id,
                parent_model_id=trained.parent_model_id,
                report=trained.report,
                plots=trained.plots,
                metrics=trained.metrics,
                weights=trained.weights,
            )
            await self._finish(session, job.id, status="succeeded", model_id=model.id)
            return model.id
