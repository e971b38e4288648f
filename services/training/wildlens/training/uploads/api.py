"""``/v1/models/uploads``: model bundles of any size, PUT straight to object storage, then
checked and registered by a job."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from wildlens.common.http import ERROR_RESPONSES, PrincipalDep, runtime_part_dependency
from wildlens.common.http.errors import ErrorBody
from wildlens.training.deps import SERVICE, DatabaseDep, SessionDep, StoreDep, TrainingSettingsDep
from wildlens.training.uploads import service
from wildlens.training.uploads.jobs import ModelUploadWorker
from wildlens.training.uploads.schemas import ModelUploadCreate, ModelUploadPublic

router = APIRouter(prefix="/v1/models/uploads", tags=["models"], responses=ERROR_RESPONSES)

WorkerDep = Annotated[
    ModelUploadWorker, Depends(runtime_part_dependency(SERVICE, ModelUploadWorker))
]


@router.post(
    "",
    response_model=ModelUploadPublic,
    status_code=201,
    operation_id="create_model_upload",
    responses={
        409: {"model": ErrorBody, "description": "The name and version are registered already"},
        413: {"model": ErrorBody, "description": "A file is larger than the platform accepts"},
    },
)
async def create_model_upload(
    session: SessionDep,
    store: StoreDep,
    limits: TrainingSettingsDep,
    principal: PrincipalDep,
    body: ModelUploadCreate,
) -> ModelUploadPublic:
    """Start uploading a model bundle of any size: answers a PUT URL for each of its files
    (who may: as for registering a bundle)."""
    principal.require_user()
    return await service.open_upload(session, store, limits, principal, body)


@router.post(
    "/{model_upload_id}/complete",
    response_model=ModelUploadPublic,
    status_code=202,
    operation_id="complete_model_upload",
    responses={
        409: {
            "model": ErrorBody,
            "description": "A file has not been PUT yet, or the upload has expired",
        },
    },
)
async def complete_model_upload(
    database: DatabaseDep,
    store: StoreDep,
    worker: WorkerDep,
    principal: PrincipalDep,
    model_upload_id: uuid.UUID,
) -> ModelUploadPublic:
    """Once both files are PUT: check the bundle and register it, as a job (follow it with
    GET); safe to call again."""
    principal.require_user()
    async with database.transaction() as session:
        upload = await service.complete(session, store, principal, model_upload_id)
        answer = service.public(upload)
    # After the commit, so that the worker finds the upload queued.
    worker.wake()
    return answer


@router.get("/{model_upload_id}", response_model=ModelUploadPublic, operation_id="get_model_upload")
async def get_model_upload(
    session: SessionDep, principal: PrincipalDep, model_upload_id: uuid.UUID
) -> ModelUploadPublic:
    """How a model upload stands: awaiting its files, queued, running, succeeded (with the
    registered model) or failed (with the problem)."""
    principal.require_user()
    return service.public(await service.get_upload(session, principal, model_upload_id))
