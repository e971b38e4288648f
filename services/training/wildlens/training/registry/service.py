"""The registry's rules: who sees which models, who may register, promote and roll them back,
and what a promotion changes.

Platform admins see and manage every model. Others see the global models and those of the
projects their token names; a project's manager registers, promotes and rolls back that
project's models. Other projects' models stay invisible (404), as everywhere on the platform.

Bundles users bring are ``external`` (stage ``registered``, and their history says so); models
trained here are ``trained`` candidates (:func:`register_candidate`, called by the training
worker with what a training run made), stored with their evaluation report and plots, and
promoted only once they have a report. A rollback puts back the model that served a scope
before the one serving now, from the stage history, which keeps every change.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal
from wildlens.common.bundles import FEATURES_FILE, MANIFEST_FILE, MODEL_FILE
from wildlens.common.db import transaction_lock, utcnow
from wildlens.common.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from wildlens.common.events.v1.inference_pb2 import (
    MODEL_KIND_CLASSIFIER,
    MODEL_KIND_DETECTOR,
    MODEL_SCOPE_GLOBAL,
    MODEL_SCOPE_PROJECT,
    ModelPromoted,
)
from wildlens.common.events.v1.training_pb2 import ModelTrained
from wildlens.common.http.pagination import PageParams
from wildlens.common.service import ServiceBus
from wildlens.common.storage import ObjectNotFound, ObjectStore
from wildlens.training.models import ModelStageChange, RegisteredModel
from wildlens.training.registry import repository
from wildlens.training.registry.objects import StagedObjects
from wildlens.training.registry.receive import ReceivedBundle
from wildlens.training.registry.schemas import ModelKind, ModelStage

__all__ = [
    "EVALUATION_FILE",
    "evaluation",
    "evaluation_plot",
    "get_model",
    "history",
    "list_models",
    "plot_key",
    "promote",
    "record_bundle",
    "register_bundle",
    "register_candidate",
    "require_manager",
    "rollback",
    "visible_projects",
]

# Beside the bundle's files: models/<name>/<version>/evaluation.json and plots/<name>.png.
EVALUATION_FILE = "evaluation.json"
# A trained model's torch state dict, beside its bundle.
WEIGHTS_FILE = "weights.pt"
PLOT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# The token's key for a role held in every project; it names no project of its own.
_ALL_PROJECTS = "*"
_KINDS = {"detector": MODEL_KIND_DETECTOR, "classifier": MODEL_KIND_CLASSIFIER}


def visible_projects(principal: Principal) -> list[uuid.UUID] | None:
    """The projects whose own models the caller sees; None when it sees every model."""
    if principal.is_platform_admin:
        return None
    return [uuid.UUID(p) for p in principal.roles if p != _ALL_PROJECTS]


async def list_models(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    stage: ModelStage | None,
    kind: ModelKind | None,
) -> tuple[list[RegisteredModel], str | None]:
    """One page of the models the caller may see and the cursor of the next."""
    return await repository.page_models(
        session,
        page,
        stage=stage,
        kind=kind,
        projects=visible_projects(principal),
    )


def require_manager(principal: Principal, project_id: uuid.UUID | None, doing: str) -> None:
    """Platform admins manage global models; a project's managers (and admins) its own."""
    if project_id is None:
        if not principal.is_platform_admin:
            raise Forbidden(f"{doing} a global model needs a platform admin")
        return
    principal.require(str(project_id), "manager", what=f"project {project_id}")


async def get_model(
    session: AsyncSession, principal: Principal, model_id: uuid.UUID
) -> RegisteredModel:
    """A model the caller may see; 404 otherwise (other projects' models stay invisible)."""
    model = await repository.get(session, model_id)
    projects = visible_projects(principal)
    if model is None or (
        model.project_id is not None and projects is not None and model.project_id not in projects
    ):
        raise NotFound(f"model {model_id} not found")
    return model


async def history(session: AsyncSession, model: RegisteredModel) -> list[ModelStageChange]:
    return await repository.history(session, model.id)


async def register_bundle(
    session: AsyncSession,
    objects: StagedObjects,
    principal: Principal,
    bundle: ReceivedBundle,
    project_id: uuid.UUID | None,
) -> RegisteredModel:
    """Record a checked bundle a user brought and store its files under
    ``models/<name>/<version>/``; stage ``registered``, source ``external``.

    The row is flushed before the files are written, so a name and version already taken
    (even by a registration running at the same moment) is refused before anything is stored.

    Raises:
        Forbidden / NotFound: the caller may not manage models in that scope.
        Conflict: the name and version are registered already.
    """
    require_manager(principal, project_id, "registering")
    return await record_bundle(session, objects, principal.subject, bundle, project_id)


async def record_bundle(
    session: AsyncSession,
    objects: StagedObjects,
    registered_by: str,
    bundle: ReceivedBundle,
    project_id: uuid.UUID | None,
) -> RegisteredModel:
    """:func:`register_bundle` for a caller authorised already (an upload's job registers
    for the manager who opened and completed the upload).

    Raises:
        Conflict: the name and version are registered already.
    """
    manifest = bundle.manifest
    conflict = await _unregistered(session, bundle, "give the bundle another version")
    bundle_key = f"models/{manifest.name}/{manifest.version}"
    model = RegisteredModel(
        **_bundle_fields(bundle),
        stage="registered",
        source="external",
        project_id=project_id,
        registered_by=registered_by,
        size_bytes=bundle.size,
        metrics=manifest.metrics,
    )
    await _add_model(
        session,
        model,
        conflict=conflict,
        changed_by=registered_by,
        # Its history says where it came from: not trained, nor evaluated, here.
        reason="external: a bundle brought to the platform, not trained here",
    )
    await session.flush()
    # The ONNX file first: inference reads the manifest and only then the model, so a reader
    # never finds a manifest whose model is not there yet.
    await objects.put_file(f"{bundle_key}/{MODEL_FILE}", bundle.onnx_path, "application/onnx")
    await objects.put_file(
        f"{bundle_key}/{MANIFEST_FILE}", bundle.manifest_path, "application/json"
    )
    return model


async def _unregistered(session: AsyncSession, bundle: ReceivedBundle, hint: str) -> str:
    """The message a clash of the bundle's name and version gives; :class:`Conflict` with it
    where they are registered already."""
    manifest = bundle.manifest
    conflict = f"model {manifest.name} {manifest.version} is registered already; {hint}"
    if await repository.by_name_version(session, manifest.name, manifest.version) is not None:
        raise Conflict(conflict)
    return conflict


def _bundle_fields(bundle: ReceivedBundle) -> dict[str, Any]:
    """What a registered model takes from its bundle's manifest."""
    manifest = bundle.manifest
    return {
        "name": manifest.name,
        "version": manifest.version,
        "kind": manifest.kind,
        "bundle_key": f"models/{manifest.name}/{manifest.version}",
        "sha256": manifest.sha256,
    }


async def _add_model(
    session: AsyncSession, model: RegisteredModel, *, conflict: str, changed_by: str, reason: str
) -> None:
    """Add a newly registered model and the first line of its stage history."""
    session.add(model)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(conflict) from exc
    session.add(
        ModelStageChange(
            model_id=model.id, to_stage=model.stage, changed_by=changed_by, reason=reason
        )
    )


def weights_key(model: RegisteredModel) -> str:
    """Where a trained model's torch weights are kept."""
    return f"{model.bundle_key}/{WEIGHTS_FILE}"


def plot_key(model: RegisteredModel, plot: str) -> str:
    return f"{model.bundle_key}/plots/{plot}.png"


async def register_candidate(
    session: AsyncSession,
    objects: StagedObjects,
    bus: ServiceBus,
    bundle: ReceivedBundle,
    *,
    project_id: uuid.UUID | None,
    job_id: uuid.UUID,
    requested_by: str,
    dataset_id: uuid.UUID,
    parent_model_id: uuid.UUID | None,
    report: Mapping[str, Any] | None,
    plots: Mapping[str, bytes],
    metrics: Mapping[str, float],
    weights: bytes | None = None,
) -> RegisteredModel:
    """Register a model trained here as a ``candidate`` (source ``trained``): its bundle, its
    evaluation report and plots, and its torch weights (for jobs that go on from it) stored
    under ``models/<name>/<version>/``, and
    ``model.trained`` sent with the commit. It serves nowhere until it is promoted, and is
    not promoted without a ``report`` (plots without a report are not stored either).

    Raises:
        Conflict: the name and version are registered already.
        Invalid: a plot name is not a plain lower-case name.
    """
    manifest = bundle.manifest
    for plot in plots:
        if not PLOT_NAME.fullmatch(plot):
            raise Invalid(f"plot name {plot!r}: lower-case letters, digits, _ and - only")
    conflict = await _unregistered(session, bundle, "a trained model needs a version of its own")
    bundle_key = f"models/{manifest.name}/{manifest.version}"
    figures = {name: float(value) for name, value in metrics.items()}
    model = RegisteredModel(
        **_bundle_fields(bundle),
        stage="candidate",
        source="trained",
        project_id=project_id,
        size_bytes=bundle.size,
        metrics=figures,
        job_id=job_id,
        dataset_id=dataset_id,
        parent_model_id=parent_model_id,
        evaluation_key=None if report is None else f"{bundle_key}/{EVALUATION_FILE}",
    )
    await _add_model(
        session,
        model,
        conflict=conflict,
        changed_by=requested_by,
        reason=f"trained by training job {job_id}",
    )
    await session.flush()
    await objects.put_file(f"{bundle_key}/{MODEL_FILE}", bundle.onnx_path, "application/onnx")
    if manifest.features is not None:
        # The second part of a classifier that combines pixels with features (checked
        # against the manifest's hash when the export wrote it).
        await objects.put_file(
            f"{bundle_key}/{FEATURES_FILE}",
            bundle.onnx_path.parent / FEATURES_FILE,
            "application/onnx",
        )
    await objects.put_file(
        f"{bundle_key}/{MANIFEST_FILE}", bundle.manifest_path, "application/json"
    )
    if weights is not None:
        await objects.put_bytes(weights_key(model), weights, "application/octet-stream")
    if report is not None:
        await objects.put_bytes(
            f"{bundle_key}/{EVALUATION_FILE}",
            json.dumps(report, indent=1, default=float).encode(),
            "application/json",
        )
        for plot, png in plots.items():
            await objects.put_bytes(plot_key(model, plot), png, "image/png")
    event = ModelTrained(
        model_id=str(model.id),
        job_id=str(job_id),
        project_id=str(project_id) if project_id else "",
        dataset_id=str(dataset_id),
        name=model.name,
        version=model.version,
        bundle_key=bundle_key,
        parent_model_id=str(parent_model_id) if parent_model_id else "",
        metrics=figures,
    )
    event.trained_at.FromDatetime(model.created_at)
    await bus.stage(session, [event])
    return model


async def trained_weights(
    session: AsyncSession, store: ObjectStore, principal_project: uuid.UUID, model_id: uuid.UUID
) -> RegisteredModel:
    """The trained classifier a job of ``principal_project`` may go on from: the project's
    own or a global one, with its weights kept.

    Raises:
        Invalid: no such model in reach, not a classifier trained here, or no weights kept.
    """

    def refused(message: str) -> Invalid:
        return Invalid(
            f"base_weights: {message}",
            fields=[
                FieldError(
                    location=["body", "base_weights", "model_id"],
                    message=message,
                    type="value_error",
                )
            ],
        )

    model = await repository.get(session, model_id)
    if model is None or model.project_id not in (None, principal_project):
        raise refused(f"no model {model_id} in this project or global")
    if model.kind != "classifier" or model.source != "trained":
        raise refused(
            f"model {model_id} is not a classifier trained here; bring its weights as a file"
        )
    if not await store.exists(weights_key(model)):
        raise refused(f"model {model_id} has no weights kept to go on from")
    return model


def _scope_lock_key(kind: str, project_id: uuid.UUID | None) -> int:
    digest = hashlib.sha256(f"model-promotion\n{kind}\n{project_id or ''}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _lock_scope(session: AsyncSession, model: RegisteredModel) -> None:
    """Two promotions or rollbacks in one scope take turns, so exactly one model ends up in
    production."""
    await transaction_lock(
        await session.connection(), _scope_lock_key(model.kind, model.project_id)
    )
    await session.refresh(model)


async def _make_production(
    session: AsyncSession,
    bus: ServiceBus,
    who: str,
    model: RegisteredModel,
    *,
    reason: str = "",
    replaced_because: str | None = None,
) -> None:
    """Archive what serves the model's kind in its scope, put the model there, record both,
    and send ``model.promoted`` with the commit."""
    replaced = replaced_because or f"replaced by {model.name} {model.version}"
    for previous in await repository.serving(session, model.kind, model.project_id):
        if previous.id == model.id:
            continue
        session.add(
            ModelStageChange(
                model_id=previous.id,
                from_stage=previous.stage,
                to_stage="archived",
                changed_by=who,
                reason=replaced,
            )
        )
        previous.stage = "archived"
        session.add(previous)
    session.add(
        ModelStageChange(
            model_id=model.id,
            from_stage=model.stage,
            to_stage="production",
            changed_by=who,
            reason=reason,
        )
    )
    model.stage = "production"
    session.add(model)
    await session.flush()
    event = ModelPromoted(
        name=model.name,
        version=model.version,
        kind=_KINDS[model.kind],
        scope=MODEL_SCOPE_PROJECT if model.project_id else MODEL_SCOPE_GLOBAL,
        project_id=str(model.project_id) if model.project_id else "",
        bundle_key=model.bundle_key,
        sha256=model.sha256,
        promoted_by=who,
    )
    event.promoted_at.FromDatetime(utcnow())
    await bus.stage(session, [event])


async def promote(
    session: AsyncSession,
    bus: ServiceBus,
    principal: Principal,
    model_id: uuid.UUID,
) -> RegisteredModel:
    """Make the model the one serving its kind in its scope.

    The model that served there before is archived; both changes are recorded with who made
    them, and ``model.promoted`` goes out with the commit, so every inference replica swaps.
    Promoting the model in production already changes nothing and publishes nothing.

    Raises:
        NotFound: no such model the caller can see.
        Forbidden: the caller may not manage models in its scope.
        Conflict: a model trained here has no evaluation report.
    """
    model = await get_model(session, principal, model_id)
    require_manager(principal, model.project_id, "promoting")
    if model.source == "trained" and model.evaluation_key is None:
        raise Conflict(
            f"model {model.name} {model.version} was trained here but has no evaluation "
            "report; a trained model is promoted only once it has been evaluated"
        )
    await _lock_scope(session, model)
    if model.stage == "production":
        return model
    await _make_production(session, bus, principal.subject, model)
    return model


async def rollback(
    session: AsyncSession,
    bus: ServiceBus,
    principal: Principal,
    model_id: uuid.UUID,
    scope: Literal["global", "project"],
) -> RegisteredModel:
    """Take the model out of production in its scope and put back the model that served
    there before it; answers the model restored. ``model.promoted`` goes out for it, and
    both changes stay in the models' histories.

    Raises:
        NotFound / Forbidden: as :func:`promote`.
        Conflict: the model serves another scope than the one named, is not in production,
            or nothing served its scope before it.
    """
    model = await get_model(session, principal, model_id)
    require_manager(principal, model.project_id, "rolling back")
    actual = "project" if model.project_id else "global"
    if scope != actual:
        where = f"project {model.project_id}" if model.project_id else "every project (global)"
        raise Conflict(
            f"model {model.name} {model.version} is a {actual} model (it serves {where}), "
            f"not a {scope} one; name its scope as it is"
        )
    await _lock_scope(session, model)
    if model.stage != "production":
        raise Conflict(
            f"model {model.name} {model.version} is not in production ({model.stage}); "
            "roll back the model serving now"
        )
    previous = await repository.previous_production(session, model)
    if previous is None:
        raise Conflict(
            f"no model served {model.kind}s in this scope before {model.name} "
            f"{model.version}: there is nothing to roll back to"
        )
    await _make_production(
        session,
        bus,
        principal.subject,
        previous,
        reason=f"rollback from {model.name} {model.version}",
        replaced_because=f"rolled back to {previous.name} {previous.version}",
    )
    return previous


async def evaluation(
    session: AsyncSession, store: ObjectStore, principal: Principal, model_id: uuid.UUID
) -> bytes:
    """The model's evaluation report (JSON) as stored.

    Raises:
        NotFound: no such model the caller can see, or it has no report.
    """
    model = await get_model(session, principal, model_id)
    if model.evaluation_key is None:
        raise NotFound(f"model {model.name} {model.version} has no evaluation report")
    try:
        return await store.get_bytes(model.evaluation_key)
    except ObjectNotFound:
        raise NotFound(f"model {model.name} {model.version} has no evaluation report") from None


async def evaluation_plot(
    session: AsyncSession,
    store: ObjectStore,
    principal: Principal,
    model_id: uuid.UUID,
    plot: str,
) -> bytes:
    """One PNG plot of the model's evaluation.

    Raises:
        NotFound: no such model the caller can see, or no such plot.
    """
    model = await get_model(session, principal, model_id)
    missing = NotFound(f"model {model.name} {model.version} has no plot {plot!r}")
    if model.evaluation_key is None or not PLOT_NAME.fullmatch(plot):
        raise missing
    try:
        return await store.get_bytes(plot_key(model, plot))
    except ObjectNotFound:
        raise missing from None
