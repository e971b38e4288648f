"""Export jobs: queued by the API, run by whichever catalogue process takes them first.

The job's row is the queue (:mod:`wildlens.common.jobs`): every catalogue process runs an
:class:`ExportWorker` that takes a job, holds it by a lease while it writes the export, and
writes the result; an export whose process died is run again from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.exchange.coordinates import export_coordinates
from wildlens.catalogue.exchange.formats import EXPORT_FORMATS, PUBLIC_FORMATS, write_export
from wildlens.catalogue.models import ExportJob
from wildlens.common.db import utcnow
from wildlens.common.jobs import LeasedWorker, LeaseLost, queries
from wildlens.common.service.context import ServiceContext

__all__ = ["FORMATS", "ExportWorker", "export_key"]

log = structlog.get_logger(__name__)

FORMATS = tuple(EXPORT_FORMATS)


def export_key(job: ExportJob) -> str:
    return f"exports/{job.project_id}/{job.id}.zip"


def _zip(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                # Images are compressed already; deflating them again only costs time.
                method = zipfile.ZIP_STORED if path.suffix.lower() in {".jpg", ".jpeg"} else None
                archive.write(path, path.relative_to(folder).as_posix(), compress_type=method)


class ExportWorker(LeasedWorker):
    """Takes queued export jobs from the database and runs them, in one catalogue process."""

    name = "export"
    id_field = "export_id"
    # Its lease, attempts and polling: the defaults. Exports run side by side, two per
    # process; more wait in the queue.
    concurrency = 2
    table = ExportJob
    # A job taken again starts over; its holder may change it whatever its status.
    restart_values: ClassVar[Mapping[str, object]] = {"progress": 0.0}
    held_only_while_running = False

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx.database, ctx.instance)
        self.ctx = ctx

    async def give_up(
        self, session: AsyncSession, job_id: uuid.UUID, now: datetime, attempts: int
    ) -> bool:
        message = f"the export was interrupted {attempts} times; giving up"
        return await queries.give_up(
            session, ExportJob, job_id, now, error=message, finished_at=now
        )

    async def failed(self, job_id: uuid.UUID, error: Exception) -> None:
        log.exception("export.failed", export_id=str(job_id))
        with contextlib.suppress(LeaseLost):
            await self.hold(job_id, status="failed", error=str(error)[:2000], finished_at=utcnow())

    async def work(self, job_id: uuid.UUID) -> None:
        async def progress(fraction: float) -> None:
            await self.hold(job_id, progress=round(0.9 * fraction, 3))

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
            await self.hold(
                job_id, status="done", progress=1.0, object_key=key, finished_at=utcnow()
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
