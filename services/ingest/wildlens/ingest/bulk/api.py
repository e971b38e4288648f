"""``/v1/uploads``: bulk uploads of SD cards, manifest first, bytes straight to storage."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from wildlens.common.http import (
    ERROR_RESPONSES,
    PageParams,
    PrincipalDep,
    error_response,
    page_params,
)
from wildlens.common.http.errors import ErrorBody
from wildlens.ingest.bulk import service
from wildlens.ingest.bulk.schemas import (
    ManifestPage,
    UploadCompleted,
    UploadCreate,
    UploadPage,
    UploadProgress,
)
from wildlens.ingest.deps import BusDep, ClientsDep, DatabaseDep, IngestSettingsDep, StoreDep
from wildlens.ingest.models import FileState
from wildlens.ingest.references import CATALOGUE_UNAVAILABLE

router = APIRouter(prefix="/v1/uploads", tags=["uploads"], responses={**ERROR_RESPONSES})

# A manifest runs to tens of thousands of files: pages are larger than elsewhere.
FilesPage = Annotated[
    PageParams,
    Depends(
        page_params(
            default=1000,
            maximum=10_000,
            limit_description="Files per page.",
            cursor_description="next_cursor of the previous page.",
        )
    ),
]


# Two pages of one manifest recorded at once, on a database without row locks.
PAGE_RACE = error_response("Another page of the manifest was being recorded; send this one again")


@router.post(
    "",
    status_code=201,
    response_model=UploadPage,
    operation_id="create_upload",
    responses={
        409: PAGE_RACE,
        503: {"model": ErrorBody, "description": CATALOGUE_UNAVAILABLE},
    },
)
async def create_upload(
    database: DatabaseDep,
    store: StoreDep,
    clients: ClientsDep,
    limits: IngestSettingsDep,
    principal: PrincipalDep,
    body: UploadCreate,
) -> UploadPage:
    """Start a bulk upload with the first page of its manifest; answers PUT URLs for new files."""
    return await service.create_upload(database, store, clients, limits, principal, body)


@router.post(
    "/{upload_id}/files",
    response_model=UploadPage,
    operation_id="add_upload_files",
    responses={409: PAGE_RACE},
)
async def add_upload_files(
    database: DatabaseDep,
    store: StoreDep,
    limits: IngestSettingsDep,
    principal: PrincipalDep,
    upload_id: uuid.UUID,
    body: ManifestPage,
) -> UploadPage:
    """Add a page of the manifest (or send one again); answers PUT URLs for pending files
    (its opener and the project's managers)."""
    return await service.add_files(database, store, limits, principal, upload_id, body.files)


@router.post("/{upload_id}/urls", response_model=UploadPage, operation_id="renew_upload_urls")
async def renew_upload_urls(
    database: DatabaseDep,
    store: StoreDep,
    limits: IngestSettingsDep,
    principal: PrincipalDep,
    upload_id: uuid.UUID,
    page: FilesPage,
) -> UploadPage:
    """Fresh PUT URLs for the files still pending, to resume an interrupted upload (its opener
    and the project's managers)."""
    return await service.fresh_urls(database, store, limits, principal, upload_id, page)


@router.post(
    "/{upload_id}/complete", response_model=UploadCompleted, operation_id="complete_upload"
)
async def complete_upload(
    database: DatabaseDep,
    store: StoreDep,
    bus: BusDep,
    limits: IngestSettingsDep,
    principal: PrincipalDep,
    upload_id: uuid.UUID,
) -> UploadCompleted:
    """Verify (size, SHA-256) and ingest every file PUT so far; safe to call again (its opener
    and the project's managers)."""
    return await service.complete_upload(database, store, bus, limits, principal, upload_id)


@router.get("/{upload_id}", response_model=UploadProgress, operation_id="get_upload")
async def get_upload(
    database: DatabaseDep,
    store: StoreDep,
    principal: PrincipalDep,
    upload_id: uuid.UUID,
    page: FilesPage,
    state: Annotated[
        list[FileState] | None, Query(description="Only files in these states.")
    ] = None,
) -> UploadProgress:
    """Progress of a bulk upload: counts, and each file's state and error (its opener and the
    project's managers)."""
    return await service.upload_progress(database, store, principal, upload_id, page, states=state)
