"""Import jobs, as the API makes, starts and shows them: the caller declares its files, PUTs
them to the URLs it is given, and starts the job; a worker (``import_worker``) imports them.

What can be refused before a byte is sent is refused at once: files larger in all than
``WILDLENS_LIMITS__IMPORT_JOB_BYTES`` (413), a file read whole larger than its limit (413),
names that could not be imported (422). Starting checks that every file has arrived with the
size declared (409 otherwise).
"""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.archives import relative_name, size_text
from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary
from wildlens.catalogue.exchange.import_staging import (
    UPLOAD_URL_TTL,
    staged_sizes,
    staging_key,
)
from wildlens.catalogue.exchange.kso.tables import kso_table
from wildlens.catalogue.exchange.schemas import (
    ImportFilePublic,
    ImportJobCreate,
    ImportJobPublic,
    ImportOptions,
)
from wildlens.catalogue.exchange.uploads import FileKind, whole_file_too_large
from wildlens.catalogue.models import ImportJob, Project
from wildlens.catalogue.models.clock import parse_offset
from wildlens.common.db import utcnow
from wildlens.common.errors import Conflict, FieldError, Invalid, NotFound, PayloadTooLarge
from wildlens.common.http.pagination import Page, PageParams
from wildlens.common.settings import LimitSettings
from wildlens.common.storage import ObjectStore

__all__ = ["create_import_job", "import_job_page", "import_job_status", "start_import_job"]

# Formats whose files are read whole into memory, and as what.
_READ_WHOLE: dict[str, FileKind] = {"coco": "json", "megadetector": "json", "kso": "csv"}


def _field(location: list[str | int], message: str) -> FieldError:
    return FieldError(location=["body", *location], message=message, type="value_error")


def _check_request(body: ImportJobCreate, limits: LimitSettings) -> None:
    total = sum(f.size for f in body.files)
    if total > limits.import_job_bytes:
        raise PayloadTooLarge(
            f"the job's files come to {size_text(total)}, more than "
            f"{size_text(limits.import_job_bytes)}, the limit WILDLENS_LIMITS__IMPORT_JOB_BYTES "
            "sets for one import job"
        )
    kind = _READ_WHOLE.get(body.format)
    for i, declared in enumerate(body.files):
        if kind is not None and declared.size > (
            limits.json_file_bytes if kind == "json" else limits.csv_file_bytes
        ):
            raise whole_file_too_large(declared.name, limits, kind)
        try:
            if body.format == "kso":
                kso_table(declared.name)
            elif body.format in ("camtrap-dp", "ecotaxa"):
                relative_name(declared.name)
        except Invalid as error:
            field = _field(["files", i, "name"], error.detail)
            raise Invalid(error.detail, fields=[field]) from error
    if body.format in ("coco", "megadetector") and len(body.files) != 1:
        message = f"a {body.format} import takes one file, not {len(body.files)}"
        raise Invalid(message, fields=[_field(["files"], message)])
    try:
        parse_offset(body.options.utc_offset)
    except ValueError as error:
        message = f"utc_offset: {error}"
        raise Invalid(message, fields=[_field(["options", "utc_offset"], str(error))]) from error


async def _public(store: ObjectStore, job: ImportJob, *, urls: bool = True) -> ImportJobPublic:
    """The job as the API shows it, with fresh upload URLs while it awaits its files (unless
    listed with others)."""
    awaiting = urls and job.status == "awaiting_files"
    files = [
        ImportFilePublic(
            n=n,
            name=str(f["name"]),
            size=int(f["size"]),
            upload_url=(
                await store.url_for_put(staging_key(job.id, n), UPLOAD_URL_TTL)
                if awaiting
                else None
            ),
        )
        for n, f in enumerate(job.files)
    ]
    return ImportJobPublic(
        id=job.id,
        project_id=job.project_id,
        format=job.format,
        status=job.status,
        files=files,
        options=ImportOptions.model_validate(job.options),
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        urls_expire_at=utcnow() + UPLOAD_URL_TTL if awaiting else None,
        summary=ImportSummary.model_validate(job.summary) if job.summary else None,
        error=job.error,
        problems=job.problems,
    )


async def create_import_job(
    store: ObjectStore,
    session: AsyncSession,
    project: Project,
    actor: str,
    body: ImportJobCreate,
    limits: LimitSettings,
) -> ImportJobPublic:
    _check_request(body, limits)
    job = ImportJob(
        project_id=project.id,
        format=body.format,
        files=[f.model_dump() for f in body.files],
        options=body.options.model_dump(),
        created_by=actor,
    )
    session.add(job)
    await session.flush()
    return await _public(store, job)


async def _project_job(
    session: AsyncSession, project: Project, job_id: uuid.UUID, *, lock: bool = False
) -> ImportJob:
    job = await repository.import_job(session, job_id, lock=lock)
    if job is None or job.project_id != project.id:
        raise NotFound(f"import job {job_id} not found in this project")
    return job


async def start_import_job(
    store: ObjectStore, session: AsyncSession, project: Project, job_id: uuid.UUID
) -> ImportJobPublic:
    """Queue the job once every file has arrived as declared; the caller's worker is to be
    woken once this commits."""
    job = await _project_job(session, project, job_id, lock=True)
    if job.status != "awaiting_files":
        raise Conflict(f"the import job is {job.status}; only a job awaiting its files starts")
    sizes = await staged_sizes(store, job.id)
    missing = [str(f["name"]) for n, f in enumerate(job.files) if n not in sizes]
    if missing:
        raise Conflict(
            f"{len(missing)} of the job's files have not been uploaded: "
            + ", ".join(repr(name) for name in missing[:20])
        )
    differ = [
        f"{f['name']!r} has {sizes[n]} bytes, not the {f['size']} declared"
        for n, f in enumerate(job.files)
        if sizes[n] != int(f["size"])
    ]
    if differ:
        raise Conflict("files differ from what was declared: " + "; ".join(differ[:20]))
    if not await repository.start_import(session, job.id, utcnow()):
        raise Conflict("the import job was started or expired meanwhile")
    await session.refresh(job)
    return await _public(store, job)


async def import_job_status(
    store: ObjectStore, session: AsyncSession, project: Project, job_id: uuid.UUID
) -> ImportJobPublic:
    return await _public(store, await _project_job(session, project, job_id))


async def import_job_page(
    store: ObjectStore, session: AsyncSession, project: Project, page: PageParams
) -> Page[ImportJobPublic]:
    rows, next_cursor = await repository.import_jobs_page(session, project.id, page)
    return Page(
        items=[await _public(store, job, urls=False) for job in rows], next_cursor=next_cursor
    )
