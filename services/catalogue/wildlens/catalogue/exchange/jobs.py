"""Export jobs: queued by the API, run by whichever catalogue process takes them first.

The job's row is the queue. Every catalogue process runs an :class:`ExportWorker` that takes
a job by a conditional update (status ``queued``, or ``running`` with a lapsed lease) so that
exactly one process gets it, renews the lease while it works, and writes the result. A
process that stops cleanly hands its jobs back (``queued``); one that dies stops renewing,
and when the lease has lapsed the next worker to look runs the job again from the start.
Workers look when the API wakes them, when they start, and every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import tempfile
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import structlog

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.exchange.coordinates import export_coordinates
from wildlens.catalogue.exchange.formats import EXPORT_FORMATS, PUBLIC_FORMATS, write_export
from wildlens.catalogue.models import ExportJob
from wildlens.common.db import utcnow
from wildlens.common.service.context import ServiceContext

__all__ = ["FORMATS", "ExportWorker", "export_key"]

log = structlog.get_logger(__name__)

FORMATS = tuple(EXPORT_FORMATS)
# How long a job stays with a process that stopped renewing before another takes it over.
LEASE = timedelta(seconds=30)
RENEW_EVERY_S = 10.0
POLL_S = 5.0
# A job that took its process down this often is not tried again.
MAX_ATTEMPTS = 3
# Exports run side by side up to this many per process; more wait in the queue.
CONCURRENCY = 2


def export_key(job: ExportJob) -> str:
    return f"exports/{job.project_id}/{job.id}.zip"


def _zip(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                # Images are compressed already; deflating them again only costs time.
                method = zipfile.ZIP_STORED if path.suffix.lower() in {".jpg", ".jpeg"} else None
                archive.write(path, path.relative_to(folder).as_posix(), compress_type=method)


class LeaseLost(RuntimeError):
    """Another process has taken the job over; this one stops working on it."""


class ExportWorker:
    """Takes queued export jobs from the database and runs them, in one catalogue process."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.db = ctx.database
        self.owner = ctx.instance
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}

    def start(self) -> None:
        self._loop = asyncio.create_task(self._poll(), name="export-worker")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop taking jobs, interrupt the running ones and hand them back to the queue."""
        tasks = [t for t in (self._loop, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        async with self.db.transaction() as session:
            await repository.hand_back(session, self.owner)

    async def _poll(self) -> None:
        while True:
            try:
                while len(self._running) < CONCURRENCY:
                    job_id = await self._claim()
                    if job_id is None:
                        break
                    task = asyncio.create_task(self._run(job_id), name=f"export-{job_id}")
                    self._running[job_id] = task
                    task.add_done_callback(functools.partial(self._finished, job_id))
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be away for a moment; the next round tries again.
                log.exception("export.claim_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()

    def _finished(self, job_id: uuid.UUID, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _claim(self) -> uuid.UUID | None:
        """Take the oldest job that is waiting or whose process has gone; None if none is."""
        now = utcnow()
        async with self.db.transaction() as session:
            candidates = await repository.claimable_jobs(session, now, limit=CONCURRENCY * 4)
            for job_id, attempts in candidates:
                if attempts >= MAX_ATTEMPTS:
                    await repository.give_up(
                        session,
                        job_id,
                        now,
                        f"the export was interrupted {attempts} times; giving up",
                    )
                    continue
                if await repository.take(session, job_id, now, self.owner, now + LEASE):
                    return job_id
        return None

    async def _update(self, job_id: uuid.UUID, **values: object) -> None:
        """Change the job while this process holds it, renewing its lease."""
        async with self.db.transaction() as session:
            held = await repository.update_held(
                session, job_id, self.owner, lease_expires_at=utcnow() + LEASE, **values
            )
        if not held:
            raise LeaseLost(f"export {job_id} was taken over")

    async def _renew(self, job_id: uuid.UUID) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            await self._update(job_id)

    async def _run(self, job_id: uuid.UUID) -> None:
        renewing = asyncio.create_task(self._renew(job_id), name=f"export-lease-{job_id}")
        work = asyncio.create_task(self._export(job_id), name=f"export-work-{job_id}")
        try:
            done, _ = await asyncio.wait({renewing, work}, return_when=asyncio.FIRST_COMPLETED)
            if work not in done:
                # The lease could not be renewed: another process has the job now.
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                log.warning("export.lease_lost", export_id=str(job_id))
                return
            await work
        except LeaseLost:
            log.warning("export.lease_lost", export_id=str(job_id))
        except asyncio.CancelledError:
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            raise
        except Exception as error:
            log.exception("export.failed", export_id=str(job_id))
            with contextlib.suppress(LeaseLost):
                await self._update(
                    job_id, status="failed", error=str(error)[:2000], finished_at=utcnow()
                )
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewing

    async def _export(self, job_id: uuid.UUID) -> None:
        async def progress(fraction: float) -> None:
            await self._update(job_id, progress=round(0.9 * fraction, 3))

        scratch = Path(tempfile.mkdtemp(prefix="wildlens-export-"))
        try:
            folder = scratch / "export"
            folder.mkdir()
            async with self.db.transaction() as session:
                job = await repository.export_job(session, job_id)
                project = await repository.project(session, job.project_id) if job else None
                if job is None or project is None:
                    return
                key = export_key(job)
                coordinates = await export_coordinates(
                    session,
                    project,
                    precise=job.precise_locations,
                    # Media with people stay out of what is published, and out of anything
                    # made for a caller the project hides them from.
                    public=job.format in PUBLIC_FORMATS or not job.with_people,
                )
                context = ExportContext(
                    session, self.ctx.store, project, folder, progress, coordinates
                )
                await write_export(job.format, context)
            archive = scratch / "export.zip"
            await asyncio.to_thread(_zip, folder, archive)
            await self.ctx.store.put_file(key, archive, "application/zip")
            await self._update(
                job_id, status="done", progress=1.0, object_key=key, finished_at=utcnow()
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
