"""Import jobs, run by whichever catalogue process takes them first (as export jobs are).

A job's row is the queue (:mod:`wildlens.common.jobs`): a worker takes a job, holds it by a
lease while it works, and hands it back when its process stops cleanly. The import and the
job's ``succeeded`` are written in one transaction, on condition that this process still holds
the job: a process that lost it (its lease lapsed and another took the job over) commits
nothing, so a job is imported once.

The work: the staged objects are streamed into a scratch folder (never whole into memory),
unpacked there within the job's limits, and handed to the importer the synchronous routes use,
whose parsing and unpacking run in threads (health checks keep answering). Whatever the
outcome, once the job is finished its scratch folder and its staged objects are removed; a job
never started is expired after a day and its objects removed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.import_formats import ImportInput, job_limits, run_import
from wildlens.catalogue.exchange.import_staging import (
    STAGING_ROOT,
    fetch_staged,
    remove_staged,
    staging_key,
)
from wildlens.catalogue.models import ImportJob
from wildlens.catalogue.taxa.resolution import NameResolver
from wildlens.common.db import utcnow
from wildlens.common.errors import Unavailable, WildlensError
from wildlens.common.jobs import LeasedWorker, LeaseLost, queries
from wildlens.common.service.context import ServiceContext

__all__ = ["EXPIRES_AFTER", "ImportWorker"]

log = structlog.get_logger(__name__)

# A job not started this long after it was made is expired, and its files removed.
EXPIRES_AFTER = timedelta(days=1)
SWEEP_EVERY_S = 600.0
FINISHED = frozenset({"succeeded", "failed", "expired"})


class ImportWorker(LeasedWorker):
    """Takes queued import jobs from the database and runs them, in one catalogue process."""

    name = "import"
    id_field = "import_id"
    # Its lease, attempts and polling: the defaults. Imports run one at a time per process:
    # each may unpack gigabytes and hold a long transaction.
    concurrency = 1
    table = ImportJob

    def __init__(self, ctx: ServiceContext, resolver: NameResolver) -> None:
        super().__init__(ctx.database, ctx.instance)
        self.ctx = ctx
        self.store = ctx.store
        self.resolver = resolver
        self._swept_at = 0.0

    async def give_up(
        self, session: AsyncSession, job_id: uuid.UUID, now: datetime, attempts: int
    ) -> bool:
        message = f"the import was interrupted {attempts} times; giving up"
        return await queries.give_up(
            session, ImportJob, job_id, now, error=message, finished_at=now, lease_owner=""
        )

    async def given_up(self, job_id: uuid.UUID) -> None:
        await remove_staged(self.store, job_id)

    async def renew(self, job_id: uuid.UUID) -> None:
        try:
            await self.hold(job_id)
        except LeaseLost:
            raise
        except Exception:
            # A database busy with the import's own transaction (SQLite has one writer):
            # the import commits only while this process holds the job, whatever happens.
            log.warning("import.renew_failed", import_id=str(job_id), exc_info=True)

    async def between_rounds(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._swept_at >= SWEEP_EVERY_S or not self._swept_at:
            self._swept_at = loop.time()
            await self.sweep()

    async def failed(self, job_id: uuid.UUID, error: Exception) -> None:
        if isinstance(error, Unavailable):
            log.warning("import.interrupted", import_id=str(job_id), exc_info=True)
        else:
            log.exception("import.not_recorded", import_id=str(job_id))

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

    async def work(self, job_id: uuid.UUID) -> None:
        scratch = Path(tempfile.mkdtemp(prefix="wildlens-import-job-"))
        finished = False
        try:
            try:
                summary = await self._import_in(scratch, job_id)
            except Unavailable:
                # The database or the store is away: the job stays with its lease, which
                # lapses, and is tried again (``max_attempts`` times in all).
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
        await self.hold(
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
            held = await self.update_held(
                session,
                job_id,
                status="succeeded",
                summary=summary.model_dump(mode="json"),
                lease_owner="",
                finished_at=utcnow(),
            )
            if not held:
                raise LeaseLost(f"import {job_id} was taken over")
        return {"created": sum(summary.created.values())}
