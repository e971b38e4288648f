"""Imports and exports of a project's data: an import runs in the request, all or nothing
(larger ones are import jobs, see ``import_jobs``); an export is a queued job that any
catalogue process may run (see ``jobs``)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from fastapi import UploadFile
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary, import_package
from wildlens.catalogue.exchange.coco.importer import import_coco
from wildlens.catalogue.exchange.jobs import export_key
from wildlens.catalogue.exchange.kso.importer import LABEL_MAP_MODEL, import_kso
from wildlens.catalogue.exchange.kso.tables import kso_table
from wildlens.catalogue.exchange.megadetector.importer import import_batch_results
from wildlens.catalogue.exchange.schemas import ExportPublic
from wildlens.catalogue.exchange.uploads import read_whole, save_package
from wildlens.catalogue.models import ExportJob, Project
from wildlens.catalogue.models.clock import parse_offset
from wildlens.catalogue.privacy import (
    PRECISE_LOCATIONS,
    export_readable,
    request_view,
    sees_people,
)
from wildlens.catalogue.taxa.events import stage_taxonomy_changed
from wildlens.catalogue.taxa.resolution import NameResolver
from wildlens.common.errors import Invalid, NotFound
from wildlens.common.service import ServiceBus
from wildlens.common.settings import LimitSettings
from wildlens.common.storage import ObjectStore

__all__ = [
    "create_export",
    "export_status",
    "import_camtrap_dp",
    "import_coco_file",
    "import_kso_files",
    "import_megadetector_file",
]

DOWNLOAD_EXPIRY = timedelta(minutes=15)


def _check_offset(utc_offset: str) -> None:
    try:
        parse_offset(utc_offset)
    except ValueError as error:
        raise Invalid(f"utc_offset: {error}") from error


async def import_camtrap_dp(
    store: ObjectStore,
    bus: ServiceBus,
    session: AsyncSession,
    project: Project,
    files: Sequence[UploadFile],
    resolver: NameResolver,
    limits: LimitSettings,
) -> ImportSummary:
    # Removed however the import ends: refused, failed or cancelled (the threads that write
    # in it are stopped before it goes).
    with tempfile.TemporaryDirectory(prefix="wildlens-import-") as scratch:
        folder = await save_package(files, Path(scratch), limits)
        return await import_package(
            session, store, bus, project, folder, resolver=resolver, limits=limits
        )


async def import_coco_file(
    session: AsyncSession,
    project: Project,
    file: UploadFile,
    utc_offset: str,
    resolver: NameResolver,
    limits: LimitSettings,
) -> ImportSummary:
    _check_offset(utc_offset)
    data = await read_whole(file, limits, "json")
    return await import_coco(session, project, data, utc_offset, limits, resolver=resolver)


async def import_megadetector_file(
    session: AsyncSession,
    project: Project,
    file: UploadFile,
    resolver: NameResolver,
    limits: LimitSettings,
) -> ImportSummary:
    data = await read_whole(file, limits, "json")
    return await import_batch_results(session, project, data, limits, resolver=resolver)


async def import_kso_files(
    bus: ServiceBus,
    session: AsyncSession,
    project: Project,
    files: Sequence[UploadFile],
    utc_offset: str,
    actor: str,
    resolver: NameResolver,
    limits: LimitSettings,
) -> ImportSummary:
    """Each file is told apart by its name (sites, movies, species), one of each."""
    _check_offset(utc_offset)
    tables: dict[str, bytes] = {}
    for upload in files:
        kind = kso_table(upload.filename or "")
        if kind in tables:
            raise Invalid(f"two {kind} files were sent")
        tables[kind] = await read_whole(upload, limits, "csv")
    summary = await import_kso(
        session, project, tables, limits, utc_offset, imported_by=actor, resolver=resolver
    )
    if summary.created.get("label_map_entries") or summary.updated.get("label_map_entries"):
        # Inference re-reads the project's label map and species list.
        await stage_taxonomy_changed(
            bus, session, "kso.imported", project_id=project.id, model_name=LABEL_MAP_MODEL
        )
    return summary


async def create_export(session: AsyncSession, access: ProjectAccess, format: str) -> ExportJob:
    """Queue an export of the project; the caller's worker is to be woken once it commits."""
    project_id = access.project.id
    job = ExportJob(
        project_id=project_id,
        format=format,
        created_by=access.principal.subject,
        # Privacy: the export shows what its requester may see, whoever runs it later: exact
        # places only with the permission, media with people only for annotators and above.
        precise_locations=access.principal.has_permission(str(project_id), PRECISE_LOCATIONS),
        with_people=sees_people(access.role),
    )
    session.add(job)
    await session.flush()
    return job


async def export_status(
    store: ObjectStore, session: AsyncSession, access: ProjectAccess, export_id: uuid.UUID
) -> ExportPublic:
    """The export's state, with a short-lived download link once it is done; 404 for an
    export made for a caller who sees more than this one (exact places, media with people),
    as for one that does not exist."""
    job = await repository.export_job(session, export_id)
    if job is None or job.project_id != access.project.id:
        raise NotFound(f"export {export_id} not found in this project")
    view = await request_view(session, access)
    if not export_readable(view, precise=job.precise_locations, with_people=job.with_people):
        raise NotFound(f"export {export_id} not found in this project")
    public = ExportPublic.model_validate(job, from_attributes=True)
    if job.status == "done":
        public.download_url = await store.url_for_get(export_key(job), DOWNLOAD_EXPIRY)
    return public
