"""The rules of training jobs: a project's managers (and platform admins) train on its labels;
what a request must say is checked before the job exists; a job is cancelled at once while it
waits, and by its worker while it runs. Other projects' jobs stay invisible (404)."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal
from wildlens.common.db import utcnow
from wildlens.common.errors import Conflict, FieldError, Invalid, NotFound
from wildlens.common.events.v1.training_pb2 import TrainingRequested
from wildlens.common.http.pagination import PageParams
from wildlens.common.service import ServiceBus
from wildlens.common.storage import ObjectStore
from wildlens.training.datasets.catalogue import CatalogueReader
from wildlens.training.datasets.label_spec import apply_label_spec, parse_label_spec
from wildlens.training.jobs import repository
from wildlens.training.jobs.schemas import (
    FINISHED,
    BaseWeights,
    FileWeights,
    ModelWeights,
    ObjectWeights,
    TrainingJobCreate,
    TrainingJobStatus,
)
from wildlens.training.models import TrainingJob
from wildlens.training.registry import service as registry
from wildlens.training.settings import TrainingSettings

__all__ = ["cancel", "create_job", "get_job", "list_jobs", "weights_file"]


def _require_manager(principal: Principal, project_id: uuid.UUID) -> None:
    principal.require(str(project_id), "manager", what=f"project {project_id}")


def _weights_invalid(message: str, field: str) -> Invalid:
    return Invalid(
        f"base_weights: {message}",
        fields=[
            FieldError(
                location=["body", "base_weights", field], message=message, type="value_error"
            )
        ],
    )


def weights_file(settings: TrainingSettings, path: str) -> Path:
    """The local weights file ``path`` names, inside the folder the platform allows.

    Raises:
        Invalid: no folder is allowed, the path leaves it, or no file is there.
    """
    if settings.weights_dir is None:
        raise _weights_invalid(
            "local weights files are not allowed on this platform "
            "(WILDLENS_TRAINING__WEIGHTS_DIR is not set); put the file in object storage "
            "under weights/ instead",
            "path",
        )
    root = settings.weights_dir.resolve()
    found = (root / path).resolve()
    if not found.is_relative_to(root):
        raise _weights_invalid(f"{path} is not inside the allowed weights folder", "path")
    if not found.is_file():
        raise _weights_invalid(f"no weights file {path} in the allowed weights folder", "path")
    return found


async def _check_weights(
    session: AsyncSession,
    store: ObjectStore,
    settings: TrainingSettings,
    project_id: uuid.UUID,
    weights: BaseWeights,
) -> None:
    if isinstance(weights, ModelWeights):
        await registry.trained_weights(session, store, project_id, weights.model_id)
    elif isinstance(weights, FileWeights):
        weights_file(settings, weights.path)
    elif isinstance(weights, ObjectWeights) and not await store.exists(weights.key):
        raise _weights_invalid(f"no object {weights.key} in storage", "key")


async def _check_features(reader: CatalogueReader, project_id: uuid.UUID, media: set[str]) -> None:
    """A combined job needs objects with features: refused before any training otherwise."""
    files = await reader.media(str(project_id), media)
    if not any(found.features for found in files.values()):
        raise Invalid(
            "a combined job fits its trees on the objects' features, and none of the "
            "observations its label spec selects is of an object with features; import the "
            "objects with their features (EcoTaxa's object_* columns typed [f]), or train a "
            "classifier"
        )


async def create_job(
    session: AsyncSession,
    bus: ServiceBus,
    store: ObjectStore,
    settings: TrainingSettings,
    principal: Principal,
    body: TrainingJobCreate,
    reader: CatalogueReader,
) -> TrainingJob:
    """Queue a training job and ask a training worker for it (``training.requested``, sent
    with the commit).

    Raises:
        NotFound: the caller is not in the project.
        Forbidden: the caller is not one of its managers.
        Invalid: the base weights are not where the request says; the label spec is
            malformed, or leaves nothing to learn from, or a class below its minimum (named)
            in the project's confirmed labels now.
    """
    _require_manager(principal, body.project_id)
    await _check_weights(session, store, settings, body.project_id, body.base_weights)
    # What the dataset builder would refuse, refused now: a job is never queued to fail on
    # its spec. (Labels confirmed or undone meanwhile are checked again when it runs.)
    spec = parse_label_spec(body.label_spec)
    records = await reader.records(
        str(body.project_id), only_validated=list(spec.confirmed_by) == ["expert"]
    )
    labelled = apply_label_spec(spec, records, seed=body.seed)
    if body.kind == "combined":
        await _check_features(reader, body.project_id, {r.media_id for r, _ in labelled.samples})
    job = TrainingJob(
        project_id=body.project_id,
        created_by=principal.subject,
        label_spec=body.label_spec,
        kind=body.kind,
        architecture=body.architecture,
        hyperparameters=body.hyperparameters.model_dump(mode="json"),
        base_weights=body.base_weights.model_dump(mode="json"),
        seed=body.seed,
        epochs=body.hyperparameters.epochs,
    )
    session.add(job)
    await session.flush()
    event = TrainingRequested(
        job_id=str(job.id),
        project_id=str(job.project_id),
        architecture=job.architecture,
        requested_by=job.created_by,
    )
    event.requested_at.FromDatetime(job.created_at)
    await bus.stage(session, [event])
    return job


async def get_job(
    session: AsyncSession, principal: Principal, job_id: uuid.UUID, *, lock: bool = False
) -> TrainingJob:
    """A job of a project the caller manages.

    Raises:
        NotFound: no such job, or one of a project the caller is not in.
        Forbidden: the caller is not a manager of its project.
    """
    job = await repository.get(session, job_id, lock=lock)
    if job is None or principal.role_in(str(job.project_id)) is None:
        raise NotFound(f"training job {job_id} not found")
    _require_manager(principal, job.project_id)
    return job


async def list_jobs(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    page: PageParams,
    *,
    status: TrainingJobStatus | None,
) -> tuple[list[TrainingJob], str | None]:
    """One page of a project's jobs (its managers only)."""
    _require_manager(principal, project_id)
    return await repository.page_jobs(session, project_id, page, status=status)


async def cancel(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> TrainingJob:
    """Cancel a job: one waiting ends cancelled now; one running is interrupted by its worker,
    which ends it cancelled within a few seconds. Cancelling twice changes nothing more.

    Raises:
        NotFound / Forbidden: as :func:`get_job`.
        Conflict: the job has succeeded or failed already.
    """
    job = await get_job(session, principal, job_id, lock=True)
    if job.status == "cancelled" or (job.status == "running" and job.cancel_requested):
        return job
    if job.status in FINISHED:
        raise Conflict(f"training job {job_id} has {job.status} already; there is nothing to stop")
    now = utcnow()
    job.cancel_requested = True
    job.updated_at = now
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = now
    session.add(job)
    await session.flush()
    return job
