"""Export jobs: queued by the API, run in the background, their status kept in the database.

A job runs as a task of the process that accepted it; its status row is what every replica
answers from. A job whose process died while it ran stays ``running``; asking for a new
export is the remedy.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path

import structlog

from wildlens.catalogue.exchange.camtrapdp.exporter import write_package
from wildlens.catalogue.exchange.camtrapdp.validation import validate_descriptor
from wildlens.catalogue.exchange.models import ExportJob
from wildlens.catalogue.projects.models import Project
from wildlens.common.db import utcnow
from wildlens.common.service.context import ServiceContext

__all__ = ["FORMATS", "export_key", "start_export"]

log = structlog.get_logger(__name__)

FORMATS = ("camtrap-dp",)


def export_key(job: ExportJob) -> str:
    return f"exports/{job.project_id}/{job.id}.zip"


def _zip(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                # Images are compressed already; deflating them again only costs time.
                method = zipfile.ZIP_STORED if path.suffix.lower() in {".jpg", ".jpeg"} else None
                archive.write(path, path.relative_to(folder).as_posix(), compress_type=method)


async def _set(ctx: ServiceContext, job_id: uuid.UUID, **values: object) -> None:
    assert ctx.db is not None
    async with ctx.db.transaction() as session:
        job = await session.get(ExportJob, job_id)
        if job is not None:
            for name, value in values.items():
                setattr(job, name, value)
            session.add(job)


async def run_export(ctx: ServiceContext, job_id: uuid.UUID) -> None:
    """Run one export job to ``done`` or ``failed``."""
    assert ctx.db is not None
    await _set(ctx, job_id, status="running", progress=0.0)

    async def progress(fraction: float) -> None:
        await _set(ctx, job_id, progress=round(0.9 * fraction, 3))

    scratch = Path(tempfile.mkdtemp(prefix="wildlens-export-"))
    try:
        folder = scratch / "package"
        folder.mkdir()
        async with ctx.db.transaction() as session:
            job = await session.get(ExportJob, job_id)
            project = await session.get(Project, job.project_id) if job else None
            if job is None or project is None:
                return
            key = export_key(job)
            await write_package(session, ctx.store, project, folder, progress)
        # An export that would not validate is a bug here, not a file to hand out.
        problems = await asyncio.to_thread(validate_descriptor, folder / "datapackage.json")
        if problems:
            raise ValueError(f"the package does not validate: {problems[:5]}")
        archive = scratch / "export.zip"
        await asyncio.to_thread(_zip, folder, archive)
        await ctx.store.put_file(key, archive, "application/zip")
        await _set(ctx, job_id, status="done", progress=1.0, object_key=key, finished_at=utcnow())
    except Exception as error:
        log.exception("export.failed", export_id=str(job_id))
        await _set(ctx, job_id, status="failed", error=str(error)[:2000], finished_at=utcnow())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def start_export(ctx: ServiceContext, job_id: uuid.UUID) -> None:
    """Run the (committed) job in the background of this process."""
    tasks: set[asyncio.Task[None]] = ctx.state.setdefault("export_tasks", set())
    task = asyncio.create_task(run_export(ctx, job_id), name=f"export-{job_id}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)
