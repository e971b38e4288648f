"""The registry's rules: who sees which models, who may register and promote them, and what a
promotion changes.

Platform admins see and manage every model. Others see the global models and those of the
projects their token names; a project's manager registers and promotes that project's models.
Other projects' models stay invisible (404), as everywhere on the platform.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE
from wildlens.common.db import transaction_lock, utcnow
from wildlens.common.errors import Conflict, Forbidden, NotFound
from wildlens.common.events.v1.inference_pb2 import (
    MODEL_KIND_CLASSIFIER,
    MODEL_KIND_DETECTOR,
    MODEL_SCOPE_GLOBAL,
    MODEL_SCOPE_PROJECT,
    ModelPromoted,
)
from wildlens.common.http.pagination import PageParams
from wildlens.common.service import ServiceBus
from wildlens.training.models import ModelStageChange, RegisteredModel
from wildlens.training.registry import repository
from wildlens.training.registry.objects import StagedObjects
from wildlens.training.registry.receive import ReceivedBundle
from wildlens.training.registry.schemas import ModelKind, ModelStage

__all__ = [
    "get_model",
    "history",
    "list_models",
    "promote",
    "record_bundle",
    "register_bundle",
    "require_manager",
    "visible_projects",
]

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
    taken = f"model {manifest.name} {manifest.version} is registered already"
    if await repository.by_name_version(session, manifest.name, manifest.version) is not None:
        raise Conflict(f"{taken}; give the bundle another version")
    bundle_key = f"models/{manifest.name}/{manifest.version}"
    model = RegisteredModel(
        name=manifest.name,
        version=manifest.version,
        kind=manifest.kind,
        bundle_key=bundle_key,
        sha256=manifest.sha256,
        stage="registered",
        source="external",
        project_id=project_id,
        registered_by=registered_by,
        size_bytes=bundle.size,
        metrics=manifest.metrics,
    )
    session.add(model)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{taken}; give the bundle another version") from exc
    session.add(
        ModelStageChange(model_id=model.id, to_stage="registered", changed_by=registered_by)
    )
    await session.flush()
    # The ONNX file first: inference reads the manifest and only then the model, so a reader
    # never finds a manifest whose model is not there yet.
    await objects.put_file(f"{bundle_key}/{MODEL_FILE}", bundle.onnx_path, "application/onnx")
    await objects.put_file(
        f"{bundle_key}/{MANIFEST_FILE}", bundle.manifest_path, "application/json"
    )
    return model


def _scope_lock_key(kind: str, project_id: uuid.UUID | None) -> int:
    digest = hashlib.sha256(f"model-promotion\n{kind}\n{project_id or ''}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


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
    """
    model = await get_model(session, principal, model_id)
    require_manager(principal, model.project_id, "promoting")
    # Two promotions in one scope take turns, so exactly one model ends up in production.
    await transaction_lock(
        await session.connection(), _scope_lock_key(model.kind, model.project_id)
    )
    await session.refresh(model)
    if model.stage == "production":
        return model
    who = principal.subject
    for previous in await repository.serving(session, model.kind, model.project_id):
        if previous.id == model.id:
            continue
        session.add(
            ModelStageChange(
                model_id=previous.id,
                from_stage=previous.stage,
                to_stage="archived",
                changed_by=who,
                reason=f"replaced by {model.name} {model.version}",
            )
        )
        previous.stage = "archived"
        session.add(previous)
    session.add(
        ModelStageChange(
            model_id=model.id, from_stage=model.stage, to_stage="production", changed_by=who
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
    return model
