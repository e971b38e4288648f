"""``/v1/training-jobs``: start a training job on a project's confirmed labels, follow it,
cancel it. A project's managers (and platform admins) only; other projects' jobs are 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from wildlens.common.http import ERROR_RESPONSES, Page, PageDep, PrincipalDep, clients_dependency
from wildlens.common.http.errors import ErrorBody
from wildlens.common.service.clients import ServiceClients
from wildlens.training.datasets.catalogue import CatalogueReader
from wildlens.training.deps import SERVICE, BusDep, SessionDep, StoreDep, TrainingSettingsDep
from wildlens.training.jobs import service
from wildlens.training.jobs.schemas import TrainingJobCreate, TrainingJobPublic, TrainingJobStatus

router = APIRouter(prefix="/v1/training-jobs", tags=["training"], responses=ERROR_RESPONSES)


@router.post(
    "",
    response_model=TrainingJobPublic,
    status_code=202,
    operation_id="create_training_job",
)
async def create_training_job(
    session: SessionDep,
    bus: BusDep,
    store: StoreDep,
    settings: TrainingSettingsDep,
    principal: PrincipalDep,
    body: TrainingJobCreate,
    clients: Annotated[ServiceClients, Depends(clients_dependency(SERVICE))],
) -> TrainingJobPublic:
    """Train a classifier on the project's confirmed labels: queued for a training worker;
    follow it with GET (managers)."""
    principal.require_user()
    job = await service.create_job(
        session,
        bus,
        store,
        settings,
        principal,
        body,
        CatalogueReader(lambda: clients.client("catalogue")),
    )
    return TrainingJobPublic.model_validate(job)


@router.get("", response_model=Page[TrainingJobPublic], operation_id="list_training_jobs")
async def list_training_jobs(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    project_id: Annotated[uuid.UUID, Query(description="The project whose jobs to list")],
    status: Annotated[
        TrainingJobStatus | None, Query(description="Only jobs in this state")
    ] = None,
) -> Page[TrainingJobPublic]:
    """A project's training jobs (managers)."""
    principal.require_user()
    rows, next_cursor = await service.list_jobs(session, principal, project_id, page, status=status)
    return Page(items=[TrainingJobPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=TrainingJobPublic, operation_id="get_training_job")
async def get_training_job(
    session: SessionDep, principal: PrincipalDep, job_id: uuid.UUID
) -> TrainingJobPublic:
    """How a training job stands: its state, epoch, loss, validation metrics, expected time
    left and the last lines of its log (managers)."""
    principal.require_user()
    return TrainingJobPublic.model_validate(await service.get_job(session, principal, job_id))


@router.post(
    "/{job_id}/cancel",
    response_model=TrainingJobPublic,
    status_code=202,
    operation_id="cancel_training_job",
    responses={409: {"model": ErrorBody, "description": "The job has succeeded or failed"}},
)
async def cancel_training_job(
    session: SessionDep, principal: PrincipalDep, job_id: uuid.UUID
) -> TrainingJobPublic:
    """Stop a training job: one waiting is cancelled at once, one running within seconds
    (cancel_requested until then); safe to call again (managers)."""
    principal.require_user()
    return TrainingJobPublic.model_validate(await service.cancel(session, principal, job_id))
