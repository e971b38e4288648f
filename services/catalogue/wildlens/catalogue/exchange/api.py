"""Imports and exports of a project's data."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, UploadFile

from wildlens.catalogue.access import ManagerDep, ViewerDep
from wildlens.catalogue.deps import SERVICE, BusDep, SessionDep, SettingsDep, StoreDep
from wildlens.catalogue.exchange import service
from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary
from wildlens.catalogue.exchange.jobs import ExportWorker
from wildlens.catalogue.exchange.schemas import ExportCreate, ExportPublic
from wildlens.catalogue.taxa.gbif import GbifBackbone
from wildlens.common.http import ERROR_RESPONSES, error_response, runtime_part_dependency

# This process's export worker (the catalogue's runtime holds it). Declared here rather than in
# ``deps``: ``deps`` sits below the domains, and the worker is this domain's.
ExportWorkerDep = Annotated[ExportWorker, Depends(runtime_part_dependency(SERVICE, ExportWorker))]
# GBIF's backbone, asked for the names an import brings that nothing else knows (off unless the
# platform is given its URL).
BackboneDep = Annotated[GbifBackbone, Depends(runtime_part_dependency(SERVICE, GbifBackbone))]

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["exchange"], responses=ERROR_RESPONSES)

# Every import reads its files within the import limits first.
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: error_response("A file, or what a package unpacks to, is larger than the limit")
}


@router.post(
    "/imports/camtrap-dp",
    response_model=ImportSummary,
    operation_id="import_camtrap_dp",
    responses=TOO_LARGE,
)
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
    return await service.import_camtrap_dp(
        store, bus, session, access.project, files, backbone, settings.limits
    )


@router.post(
    "/imports/coco", response_model=ImportSummary, operation_id="import_coco", responses=TOO_LARGE
)
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
    return await service.import_coco_file(
        session, access.project, file, utc_offset, backbone, settings.limits
    )


@router.post(
    "/imports/megadetector",
    response_model=ImportSummary,
    operation_id="import_megadetector",
    responses=TOO_LARGE,
)
async def import_megadetector_file(
    file: Annotated[UploadFile, File(description="A MegaDetector batch output JSON file")],
    session: SessionDep,
    access: ManagerDep,
    backbone: BackboneDep,
    settings: SettingsDep,
) -> ImportSummary:
    """Attach MegaDetector results to the project's media, matched by file path or name."""
    return await service.import_megadetector_file(
        session, access.project, file, backbone, settings.limits
    )


@router.post(
    "/imports/kso", response_model=ImportSummary, operation_id="import_kso", responses=TOO_LARGE
)
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
    return await service.import_kso_files(
        bus,
        session,
        access.project,
        files,
        utc_offset,
        access.principal.subject,
        backbone,
        settings.limits,
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
