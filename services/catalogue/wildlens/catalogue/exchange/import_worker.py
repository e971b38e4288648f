"""Import jobs, run by whichever catalogue process takes them first (as export jobs are).

A job's row is the queue: a worker takes a ``queued`` job, or a ``running`` one whose lease
has lapsed, by a conditional update, renews the lease while it works, and hands its jobs back
when its process stops cleanly. The import and the job's ``succeeded`` are written in one
transaction, on condition that this process still holds the job: a process that lost it
(its lease lapsed and another took the job over) commits nothing, so a job is imported once.

The work: the staged objects are streamed into a scratch folder (never whole into memory),
unpacked there within the job's limits, and handed to the importer the synchronous routes use,
whose parsing and unpacking run in threads (health checks keep answering). Whatever the
outcome, once the job is finished its scratch folder and its staged objects are removed; a job
never started is expired after a day and its objects removed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.import_formats import ImportInput, job_limits, run_import
from wildlens.catalogue.exchange.import_staging import (
    STAGING_ROOT,
    fetch_staged,
    remove_staged,
    staging_key,
)
from wildlens.catalogue.taxa.resolution import NameResolver
from wildlens.common.db import utcnow
from wildlens.common.errors import Unavailable, WildlensError
from wildlens.common.service.context import ServiceContext

__all__ = ["EXPIRES_AFTER", "ImportWorker"]

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=30)
RENEW_EVERY_S = 10.0
POLL_S = 5.0
MAX_ATTEMPTS = 3
# Imports run one at a time per process: each may unpack gigabytes and hold a long transaction.
CONCURRENCY = 1
# A job not started this long after it was made is expired, and its files removed.
EXPIRES_AFTER = timedelta(days=1)
SWEEP_EVERY_S = 600.0
FINISHED = frozenset({"succeeded", "failed", "expired"})


class LeaseLost(RuntimeError):
    """Another process has taken the job over; this one stops working on it."""


class ImportWorker:
    """Takes queued import jobs from the database and runs them, in one catalogue process."""

    def __init__(self, ctx: ServiceContext, resolver: NameResolver) -> None:
        self.ctx = ctx
        self.db = ctx.database
        self.store = ctx.store
        self.owner = ctx.instance
        self.resolver = resolver
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._swept_at = 0.0

    def start(self) -> None:
        self._loop = asyncio.create_task(self._poll(), name="import-worker")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop taking jobs, interrupt the running ones and hand them back to the queue (their
        staged files stay for the process that takes them next)."""
        tasks = [t for t in (self._loop, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        async with self.db.transaction() as session:
            await repository.hand_back_imports(session, self.owner)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - self._swept_at >= SWEEP_EVERY_S or not self._swept_at:
                    self._swept_at = loop.time()
                    await self.sweep()
                while len(self._running) < CONCURRENCY:
                    job_id = await self._claim()
                    if job_id is None:
                        break
                    task = asyncio.create_task(self._run(job_id), name=f"import-{job_id}")
                    self._running[job_id] = task
                    task.add_done_callback(functools.partial(self._finished, job_id))
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database or the store may be away for a moment; the next round retries.
                log.exception("import.claim_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()

    def _finished(self, job_id: uuid.UUID, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def sweep(self, now: datetime | None = None) -> None:
        """Expire the jobs not started in time, and remove staged files no job waits for
        (those of finished jobs whose removal failed, of jobs whose project is gone)."""
        now = now or utcnow()
        async with self.db.transaction() as session:
            stale = await repository.expired_imports(session, now - EXPIRES_AFTER, limit=100)
            expired = [j for j in stale if await repository.expire_import(session, j, now)]
        for job_id in expired:
            await remove_staged(self.store, job_id)
            log.info("import.expired", import_id=str(job_id))
        staged = {
            info.key[len(STAGING_ROOT) :].split("/", 1)[0]
            for info in await self.store.list(STAGING_ROOT)
        }
        for name in staged:
            try:
                job_id = uuid.UUID(name)
            except ValueError:
                continue
            async with self.db.transaction() as session:
                job = await repository.import_job(session, job_id)
            if job is None or job.status in FINISHED:
                await remove_staged(self.store, job_id)

    async def _claim(self) -> uuid.UUID | None:
        """Take the oldest job that is waiting or whose process has gone; None if none is."""
        now = utcnow()
        given_up: list[uuid.UUID] = []
        taken: uuid.UUID | None = None
        async with self.db.transaction() as session:
            candidates = await repository.claimable_imports(session, now, limit=8)
            for job_id, attempts in candidates:
                if job_id in self._running:
                    continue  # this process's own, its lease waiting on a busy database
                if attempts >= MAX_ATTEMPTS:
                    message = f"the import was interrupted {attempts} times; giving up"
                    if await repository.give_up_import(session, job_id, now, message):
                        given_up.append(job_id)
                    continue
                if await repository.take_import(session, job_id, now, self.owner, now + LEASE):
                    taken = job_id
                    break
        for job_id in given_up:
            await remove_staged(self.store, job_id)
        return taken

    async def _update(self, job_id: uuid.UUID, **values: object) -> None:
        """Change the job while this process holds it, renewing its lease."""
        async with self.db.transaction() as session:
            held = await repository.update_held_import(
                session, job_id, self.owner, lease_expires_at=utcnow() + LEASE, **values
            )
        if not held:
            raise LeaseLost(f"import {job_id} was taken over")

    async def _renew(self, job_id: uuid.UUID) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            try:
                await self._update(job_id)
            except LeaseLost:
                raise
            except Exception:
                # A database busy with the import's own transaction (SQLite has one writer):
                # the import commits only while this process holds the job, whatever happens.
                log.warning("import.renew_failed", import_id=str(job_id), exc_info=True)

    async def _run(self, job_id: uuid.UUID) -> None:
        renewing = asyncio.create_task(self._renew(job_id), name=f"import-lease-{job_id}")
        work = asyncio.create_task(self._import(job_id), name=f"import-work-{job_id}")
        try:
            done, _ = await asyncio.wait({renewing, work}, return_when=asyncio.FIRST_COMPLETED)
            if work not in done:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                log.warning("import.lease_lost", import_id=str(job_id))
                return
            await work
        except LeaseLost:
            log.warning("import.lease_lost", import_id=str(job_id))
        except Unavailable:
            log.warning("import.interrupted", import_id=str(job_id), exc_info=True)
        except Exception:
            log.exception("import.not_recorded", import_id=str(job_id))
        except asyncio.CancelledError:
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            raise
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewing

    async def _import(self, job_id: uuid.UUID) -> None:
        scratch = Path(tempfile.mkdtemp(prefix="wildlens-import-job-"))
        finished = False
        try:
            try:
                summary = await self._import_in(scratch, job_id)
            except Unavailable:
                # The database or the store is away: the job stays with its lease, which
                # lapses, and is tried again (MAX_ATTEMPTS times in all).
                raise
            except WildlensError as error:
                # The file's problems, or a limit: the job failed, nothing was imported.
                problems = [p.model_dump(mode="json") for p in error.fields]
                await self._fail(job_id, error.detail, problems)
            except (LeaseLost, asyncio.CancelledError):
                raise
            except Exception as error:
                log.exception("import.failed", import_id=str(job_id))
                await self._fail(job_id, f"the import failed: {str(error)[:1000]}", [])
            else:
                log.info("import.succeeded", import_id=str(job_id), **summary)
            finished = True
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            if finished:
                with contextlib.suppress(Exception):
                    await remove_staged(self.store, job_id)

    async def _fail(self, job_id: uuid.UUID, error: str, problems: list[dict[str, Any]]) -> None:
        await self._update(
            job_id,
            status="failed",
            error=error[:4000],
            problems=problems,
            lease_owner="",
            finished_at=utcnow(),
        )

    async def _import_in(self, scratch: Path, job_id: uuid.UUID) -> dict[str, int]:
        async with self.db.transaction() as session:
            job = await repository.import_job(session, job_id)
            project = await repository.project(session, job.project_id) if job else None
        if job is None or project is None:
            raise LeaseLost(f"import {job_id} is gone")
        staged = scratch / "staged"
        staged.mkdir()
        files: list[tuple[str, Path]] = []
        for n, declared in enumerate(job.files):
            name, size = str(declared["name"]), int(declared["size"])
            target = staged / str(n)
            await fetch_staged(self.store, staging_key(job.id, n), target, size, name)
            files.append((name, target))
        work = scratch / "work"
        work.mkdir()
        async with self.db.transaction() as session:
            summary = await run_import(
                job.format,
                ImportInput(
                    session=session,
                    store=self.store,
                    bus=self.ctx.service_bus,
                    project=project,
                    files=files,
                    scratch=work,
                    limits=job_limits(self.ctx.settings.limits),
                    resolver=self.resolver,
                    actor=job.created_by,
                    options=job.options,
                ),
            )
            # In the import's own transaction: a process that lost the job commits nothing.
            held = await repository.update_held_import(
                session,
                job_id,
                self.owner,
                status="succeeded",
                summary=summary.model_dump(mode="json"),
                lease_owner="",
                finished_at=utcnow(),
            )
            if not held:
                raise LeaseLost(f"import {job_id} was taken over")
        return {"created": sum(summary.created.values())}
