"""Imports and exports of a project's data."""

from __future__ import annotations

import shutil
import tempfile
import uuid
import zipfile
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, UploadFile
from pydantic import BaseModel

from wildlens.catalogue.access import require_access, require_project
from wildlens.catalogue.deps import ContextDep, SessionDep
from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary, import_package
from wildlens.catalogue.exchange.coco.importer import import_coco
from wildlens.catalogue.exchange.jobs import export_key, wake_exports
from wildlens.catalogue.exchange.kso.importer import KSO_FILES, LABEL_MAP_MODEL, import_kso
from wildlens.catalogue.exchange.megadetector.importer import import_batch_results
from wildlens.catalogue.models import ExportJob
from wildlens.catalogue.models.clock import parse_offset
from wildlens.catalogue.taxa.events import stage_taxonomy_changed
from wildlens.common.errors import Invalid, NotFound, PayloadTooLarge
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["exchange"], responses=ERROR_RESPONSES)

DOWNLOAD_EXPIRY = timedelta(minutes=15)
_CHUNK = 1 << 20
# What a zip may unpack to: a package with its images is large, a zip bomb larger.
MAX_UNPACKED_BYTES = 64 << 30


ExportFormatName = Literal["camtrap-dp", "coco", "megadetector", "dwca", "csv"]
# A JSON or CSV file to import is read whole; past this it is not the file it claims to be.
MAX_FILE_BYTES = 512 << 20


class ExportCreate(BaseModel):
    format: ExportFormatName


class ExportPublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    format: ExportFormatName
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    error: str
    created_at: datetime
    finished_at: datetime | None
    # A short-lived link to the zip, once the export is done.
    download_url: str | None = None


def _relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise Invalid(f"refusing a file named {name!r} in the package")
    return path


def _unpack(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                raise PayloadTooLarge("the package unpacks to more than the import limit")
            for member in members:
                target = folder / _relative(member.filename)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)
    except zipfile.BadZipFile as error:
        raise Invalid(f"the upload is not a zip file: {error}") from error
    # A package zipped with its folder: the descriptor is one level down.
    if not (folder / "datapackage.json").exists():
        found = sorted(folder.glob("*/datapackage.json"))
        if len(found) == 1:
            for child in list(found[0].parent.iterdir()):
                child.rename(folder / child.name)


@router.post("/imports/camtrap-dp", response_model=ImportSummary, operation_id="import_camtrap_dp")
async def import_camtrap_dp(
    project_id: uuid.UUID,
    files: Annotated[list[UploadFile], File(description="A zip, or datapackage.json + CSVs")],
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
) -> ImportSummary:
    """Import a Camtrap DP package: all or nothing; importing it again updates by its ids."""
    project = await require_project(session, principal, project_id, "manager")
    with tempfile.TemporaryDirectory(prefix="wildlens-import-") as scratch:
        folder = Path(scratch) / "package"
        folder.mkdir()
        for upload in files:
            name = upload.filename or "upload"
            target = (
                Path(scratch) / "upload.zip" if name.endswith(".zip") else folder / _relative(name)
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as sink:
                while chunk := await upload.read(_CHUNK):
                    sink.write(chunk)
            if name.endswith(".zip"):
                _unpack(target, folder)
        return await import_package(session, ctx.store, project, folder)


def _check_offset(utc_offset: str) -> None:
    try:
        parse_offset(utc_offset)
    except ValueError as error:
        raise Invalid(f"utc_offset: {error}") from error


async def _read_whole(upload: UploadFile) -> bytes:
    data = await upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"{upload.filename or 'the file'} is larger than the import limit")
    return data


@router.post("/imports/coco", response_model=ImportSummary, operation_id="import_coco")
async def import_coco_file(
    project_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="A COCO Camera Traps JSON file")],
    session: SessionDep,
    principal: PrincipalDep,
    utc_offset: Annotated[
        str,
        Form(description="The camera clocks' offset for datetimes written without one"),
    ] = "+00:00",
) -> ImportSummary:
    """Import a COCO Camera Traps file: all of it, or nothing and every problem listed."""
    project = await require_project(session, principal, project_id, "manager")
    _check_offset(utc_offset)
    return await import_coco(session, project, await _read_whole(file), utc_offset)


@router.post(
    "/imports/megadetector", response_model=ImportSummary, operation_id="import_megadetector"
)
async def import_megadetector_file(
    project_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="A MegaDetector batch output JSON file")],
    session: SessionDep,
    principal: PrincipalDep,
) -> ImportSummary:
    """Attach MegaDetector results to the project's media, matched by file path or name."""
    project = await require_project(session, principal, project_id, "manager")
    return await import_batch_results(session, project, await _read_whole(file))


@router.post("/imports/kso", response_model=ImportSummary, operation_id="import_kso")
async def import_kso_files(
    project_id: uuid.UUID,
    files: Annotated[list[UploadFile], File(description="sites.csv, movies.csv and species.csv")],
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    utc_offset: Annotated[
        str, Form(description="The offset of the movies' created_on times")
    ] = "+00:00",
) -> ImportSummary:
    """Import KSO's sites, movies and species CSVs: all of them, or nothing and every problem."""
    project = await require_project(session, principal, project_id, "manager")
    _check_offset(utc_offset)
    tables: dict[str, bytes] = {}
    for upload in files:
        name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
        kind = next((k for k in KSO_FILES if k in name.lower()), None)
        if kind is None:
            raise Invalid(
                f"cannot tell which KSO table {name!r} is: name it after sites, movies or species"
            )
        if kind in tables:
            raise Invalid(f"two {kind} files were sent")
        tables[kind] = await _read_whole(upload)
    summary = await import_kso(session, project, tables, utc_offset, imported_by=principal.subject)
    if summary.created.get("label_map_entries") or summary.updated.get("label_map_entries"):
        # Inference re-reads the project's label map and species list.
        await stage_taxonomy_changed(
            ctx, session, "kso.imported", project_id=project_id, model_name=LABEL_MAP_MODEL
        )
    return summary


@router.post("/exports", status_code=202, response_model=ExportPublic, operation_id="create_export")
async def create_export(
    project_id: uuid.UUID,
    body: ExportCreate,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    background: BackgroundTasks,
) -> ExportPublic:
    """Start exporting the project; poll the export for its status and download link."""
    access = await require_access(session, principal, project_id, "viewer")
    job = ExportJob(
        project_id=project_id,
        format=body.format,
        created_by=principal.subject,
        # Privacy: the export shows what its requester may see, whoever runs it later.
        precise_locations=access.principal.has_permission(str(project_id), "precise_locations"),
    )
    session.add(job)
    await session.flush()
    # Any catalogue process may run it; this one is told at once, after the row is committed.
    background.add_task(wake_exports, ctx)
    return ExportPublic.model_validate(job, from_attributes=True)


@router.get("/exports/{export_id}", response_model=ExportPublic, operation_id="get_export")
async def get_export(
    project_id: uuid.UUID,
    export_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
) -> ExportPublic:
    """An export's status, and a short-lived download link when it is done."""
    await require_project(session, principal, project_id, "viewer")
    job = await session.get(ExportJob, export_id)
    if job is None or job.project_id != project_id:
        raise NotFound(f"export {export_id} not found in this project")
    public = ExportPublic.model_validate(job, from_attributes=True)
    if job.status == "done":
        public.download_url = await ctx.store.url_for_get(export_key(job), DOWNLOAD_EXPIRY)
    return public
