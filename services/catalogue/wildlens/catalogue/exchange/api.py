"""Imports and exports of a project's data."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, UploadFile

from wildlens.catalogue.access import ManagerDep, ViewerDep
from wildlens.catalogue.deps import SERVICE, BusDep, SessionDep, SettingsDep, StoreDep
from wildlens.catalogue.exchange import import_jobs, service
from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary
from wildlens.catalogue.exchange.import_worker import ImportWorker
from wildlens.catalogue.exchange.jobs import ExportWorker
from wildlens.catalogue.exchange.schemas import (
    ExportCreate,
    ExportPublic,
    ImportJobCreate,
    ImportJobPublic,
)
from wildlens.catalogue.taxa.gbif import GbifBackbone
from wildlens.common.errors import PayloadTooLarge
from wildlens.common.http import ERROR_RESPONSES, error_response, runtime_part_dependency
from wildlens.common.http.body_limit import body_limit
from wildlens.common.http.pagination import Page, PageDep

# This process's export worker (the catalogue's runtime holds it). Declared here rather than in
# ``deps``: ``deps`` sits below the domains, and the worker is this domain's.
ExportWorkerDep = Annotated[ExportWorker, Depends(runtime_part_dependency(SERVICE, ExportWorker))]
ImportWorkerDep = Annotated[ImportWorker, Depends(runtime_part_dependency(SERVICE, ImportWorker))]
# GBIF's backbone, asked for the names an import brings that nothing else knows (off unless the
# platform is given its URL).
BackboneDep = Annotated[GbifBackbone, Depends(runtime_part_dependency(SERVICE, GbifBackbone))]


async def _hinted(work: Awaitable[ImportSummary]) -> ImportSummary:
    """The import, whose refusal for size says where larger inputs go."""
    try:
        return await work
    except PayloadTooLarge as error:
        raise PayloadTooLarge(f"{error.detail}; {USE_A_JOB}", fields=error.fields) from error


router = APIRouter(prefix="/v1/projects/{project_id}", tags=["exchange"], responses=ERROR_RESPONSES)

# Every import reads its files within the import limits first; larger inputs go through an
# import job, and the refusal says so.
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: error_response(
        "A file, or what a package unpacks to, is larger than the limit (larger inputs go "
        "through an import job)"
    )
}
USE_A_JOB = (
    "larger inputs go through an import job (POST /v1/projects/{project_id}/import-jobs, "
    "or `wildlens import`)"
)
# The upload limit as every multipart route has it, with the way round it in the refusal.
_sync_upload_limit = body_limit(
    lambda settings: settings.limits.upload_bytes, "WILDLENS_LIMITS__UPLOAD_BYTES", USE_A_JOB
)


@router.post(
    "/imports/camtrap-dp",
    response_model=ImportSummary,
    operation_id="import_camtrap_dp",
    responses=TOO_LARGE,
)
@_sync_upload_limit
async def import_camtrap_dp(
    files: Annotated[list[UploadFile], File(description="A zip, or datapackage.json + CSVs")],
    session: SessionDep,
    access: ManagerDep,
    store: StoreDep,
    bus: BusDep,
    backbone: BackboneDep,
    settings: SettingsDep,
) -> ImportSummary:
    """Import a Camtrap DP package: all or nothing; importing it again updates by its ids."""
    return await _hinted(
        service.import_camtrap_dp(
            store, bus, session, access.project, files, backbone, settings.limits
        )
    )


@router.post(
    "/imports/coco", response_model=ImportSummary, operation_id="import_coco", responses=TOO_LARGE
)
@_sync_upload_limit
async def import_coco_file(
    file: Annotated[UploadFile, File(description="A COCO Camera Traps JSON file")],
    session: SessionDep,
    access: ManagerDep,
    backbone: BackboneDep,
    settings: SettingsDep,
    utc_offset: Annotated[
        str,
        Form(description="The camera clocks' offset for datetimes written without one"),
    ] = "+00:00",
) -> ImportSummary:
    """Import a COCO Camera Traps file: all of it, or nothing and every problem listed."""
    return await _hinted(
        service.import_coco_file(
            session, access.project, file, utc_offset, backbone, settings.limits
        )
    )


@router.post(
    "/imports/megadetector",
    response_model=ImportSummary,
    operation_id="import_megadetector",
    responses=TOO_LARGE,
)
@_sync_upload_limit
async def import_megadetector_file(
    file: Annotated[UploadFile, File(description="A MegaDetector batch output JSON file")],
    session: SessionDep,
    access: ManagerDep,
    backbone: BackboneDep,
    settings: SettingsDep,
) -> ImportSummary:
    """Attach MegaDetector results to the project's media, matched by file path or name."""
    return await _hinted(
        service.import_megadetector_file(session, access.project, file, backbone, settings.limits)
    )


@router.post(
    "/imports/kso", response_model=ImportSummary, operation_id="import_kso", responses=TOO_LARGE
)
@_sync_upload_limit
async def import_kso_files(
    files: Annotated[list[UploadFile], File(description="sites.csv, movies.csv and species.csv")],
    session: SessionDep,
    access: ManagerDep,
    bus: BusDep,
    backbone: BackboneDep,
    settings: SettingsDep,
    utc_offset: Annotated[
        str, Form(description="The offset of the movies' created_on times")
    ] = "+00:00",
) -> ImportSummary:
    """Import KSO's sites, movies and species CSVs: all of them, or nothing and every problem."""
    return await _hinted(
        service.import_kso_files(
            bus,
            session,
            access.project,
            files,
            utc_offset,
            access.principal.subject,
            backbone,
            settings.limits,
        )
    )


@router.post("/exports", status_code=202, response_model=ExportPublic, operation_id="create_export")
async def create_export(
    body: ExportCreate,
    session: SessionDep,
    access: ViewerDep,
    exports: ExportWorkerDep,
    background: BackgroundTasks,
) -> ExportPublic:
    """Start exporting the project as the caller sees it (sensitive places generalised
    without precise_locations); poll the export for its status and download link."""
    job = await service.create_export(session, access, body.format)
    # Any catalogue process may run it; this one is told at once, after the row is committed.
    background.add_task(exports.wake)
    return ExportPublic.model_validate(job, from_attributes=True)


@router.get("/exports/{export_id}", response_model=ExportPublic, operation_id="get_export")
async def get_export(
    export_id: uuid.UUID, session: SessionDep, access: ViewerDep, store: StoreDep
) -> ExportPublic:
    """An export's status, and a short-lived download link when it is done; only for callers
    who see everything the export may hold (exact places, media with people), 404 otherwise."""
    return await service.export_status(store, session, access, export_id)


@router.post(
    "/import-jobs",
    status_code=201,
    response_model=ImportJobPublic,
    operation_id="create_import_job",
    responses={
        413: error_response(
            "The files declared are larger in all than WILDLENS_LIMITS__IMPORT_JOB_BYTES, or "
            "a file read whole is larger than its limit"
        )
    },
)
async def create_import_job(
    body: ImportJobCreate,
    session: SessionDep,
    access: ManagerDep,
    store: StoreDep,
    settings: SettingsDep,
) -> ImportJobPublic:
    """Make an import job for files too large for the import routes (an archive of several
    GB): PUT each file to its `upload_url`, then start the job. A job not started within a
    day expires, and its files are removed."""
    return await import_jobs.create_import_job(
        store, session, access.project, access.principal.subject, body, settings.limits
    )


@router.post(
    "/import-jobs/{import_job_id}/start",
    status_code=202,
    response_model=ImportJobPublic,
    operation_id="start_import_job",
    responses={
        409: error_response(
            "A file has not been uploaded, or holds another size than declared; or the job "
            "was started already or has expired"
        )
    },
)
async def start_import_job(
    import_job_id: uuid.UUID,
    session: SessionDep,
    access: ManagerDep,
    store: StoreDep,
    imports: ImportWorkerDep,
    background: BackgroundTasks,
) -> ImportJobPublic:
    """Queue the job once all its files are uploaded; poll it for its summary, or the
    problems that kept everything out (all or nothing, as with the import routes)."""
    job = await import_jobs.start_import_job(store, session, access.project, import_job_id)
    background.add_task(imports.wake)
    return job


@router.get(
    "/import-jobs/{import_job_id}",
    response_model=ImportJobPublic,
    operation_id="get_import_job",
)
async def get_import_job(
    import_job_id: uuid.UUID, session: SessionDep, access: ManagerDep, store: StoreDep
) -> ImportJobPublic:
    """An import job: its status, and its summary or problems once it is done; fresh upload
    URLs while it awaits its files (managers)."""
    return await import_jobs.import_job_status(store, session, access.project, import_job_id)


@router.get("/import-jobs", response_model=Page[ImportJobPublic], operation_id="list_import_jobs")
async def list_import_jobs(
    session: SessionDep, access: ManagerDep, store: StoreDep, page: PageDep
) -> Page[ImportJobPublic]:
    """The project's import jobs, newest first, without upload URLs: ask for one job for
    those (managers)."""
    return await import_jobs.import_job_page(store, session, access.project, page)
