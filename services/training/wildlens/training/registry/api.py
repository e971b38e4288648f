"""The model registry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile

from wildlens.common.errors import PayloadTooLarge
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep, PrincipalDep, body_limit
from wildlens.common.http.errors import ErrorBody
from wildlens.common.settings import Settings
from wildlens.training.deps import (
    BusDep,
    DatabaseDep,
    SessionDep,
    StoreDep,
    TrainingSettingsDep,
)
from wildlens.training.models import ModelStageChange
from wildlens.training.registry import service
from wildlens.training.registry.objects import staged_objects
from wildlens.training.registry.receive import received_bundle
from wildlens.training.registry.schemas import (
    ModelDetail,
    ModelKind,
    ModelPublic,
    ModelStage,
    Rollback,
    StageChange,
)
from wildlens.training.settings import TrainingSettings

router = APIRouter(prefix="/v1/models", tags=["models"], responses=ERROR_RESPONSES)

# Multipart framing around the two files: boundaries, part headers, the project id.
_FRAMING_BYTES = 64 * 1024


def _bundle_limit(settings: Settings) -> int:
    """The most a registration's body may be: the model, the manifest and the form around,
    within the upload limit every multipart route has; a bundle larger than that is no
    request's work but a model upload's (PUT to the store, checked by a job)."""
    limits = TrainingSettings.of(settings)
    bundle = limits.max_model_bytes + limits.max_manifest_bytes + _FRAMING_BYTES
    return min(bundle, settings.limits.upload_bytes)


USE_AN_UPLOAD = (
    "larger bundles go through a model upload (POST /v1/models/uploads, which "
    "`wildlens models add` uses)"
)


def _detail(model: ModelPublic, changes: Sequence[ModelStageChange]) -> ModelDetail:
    return ModelDetail(
        **model.model_dump(), history=[StageChange.model_validate(c) for c in changes]
    )


@router.get("", response_model=Page[ModelPublic])
async def list_models(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    stage: Annotated[
        ModelStage | None,
        Query(description="Only models in this stage (inference reads production at start-up)"),
    ] = None,
    kind: Annotated[ModelKind | None, Query()] = None,
) -> Page[ModelPublic]:
    """Registered models: global ones, and those of projects the caller belongs to."""
    principal.require_user()
    rows, next_cursor = await service.list_models(session, principal, page, stage=stage, kind=kind)
    return Page(items=[ModelPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    response_model=ModelDetail,
    status_code=201,
    responses={
        409: {"model": ErrorBody, "description": "The name and version are registered already"},
        413: {"model": ErrorBody, "description": "The model is larger than the platform accepts"},
    },
)
# Refused as it arrives, not once the form has been spooled whole.
@body_limit(_bundle_limit, "WILDLENS_LIMITS__UPLOAD_BYTES", USE_AN_UPLOAD)
async def register_model(
    request: Request,
    database: DatabaseDep,
    store: StoreDep,
    settings: TrainingSettingsDep,
    principal: PrincipalDep,
    model: Annotated[UploadFile, File(description="The model: an ONNX file (model.onnx)")],
    manifest: Annotated[
        UploadFile,
        File(description="Its manifest (wildlens-model.json), with the model's SHA-256"),
    ],
    project_id: Annotated[
        uuid.UUID | None,
        Form(description="This project's own model (its managers manage it); none: global"),
    ] = None,
) -> ModelDetail:
    """Register a model bundle you bring (ONNX file and manifest); it serves once promoted."""
    principal.require_user()
    declared = int(request.headers.get("content-length") or 0)
    limit = settings.max_model_bytes + settings.max_manifest_bytes + _FRAMING_BYTES
    if declared > limit:
        raise PayloadTooLarge(
            f"the request is larger than this platform accepts ({limit} bytes in all)"
        )
    async with (
        received_bundle(
            model,
            manifest,
            max_model_bytes=settings.max_model_bytes,
            max_manifest_bytes=settings.max_manifest_bytes,
        ) as bundle,
        staged_objects(store) as objects,
        database.transaction() as session,
    ):
        row = await service.register_bundle(session, objects, principal, bundle, project_id)
        public = ModelPublic.model_validate(row)
        changes = await service.history(session, row)
    return _detail(public, changes)


@router.get("/{model_id}", response_model=ModelDetail)
async def get_model(
    session: SessionDep, principal: PrincipalDep, model_id: uuid.UUID
) -> ModelDetail:
    """One registered model, with every stage it has been in and who put it there."""
    principal.require_user()
    row = await service.get_model(session, principal, model_id)
    changes = await service.history(session, row)
    return _detail(ModelPublic.model_validate(row), changes)


@router.post(
    "/{model_id}/promote",
    response_model=ModelDetail,
    responses={
        409: {"model": ErrorBody, "description": "A model trained here has no evaluation report"}
    },
)
async def promote_model(
    session: SessionDep, bus: BusDep, principal: PrincipalDep, model_id: uuid.UUID
) -> ModelDetail:
    """Make this model the one serving its kind (globally or in its project); every inference
    replica swaps to it (a project's managers for its models; admins for global ones)."""
    principal.require_user()
    row = await service.promote(session, bus, principal, model_id)
    changes = await service.history(session, row)
    return _detail(ModelPublic.model_validate(row), changes)


@router.post(
    "/{model_id}/rollback",
    response_model=ModelDetail,
    responses={
        409: {
            "model": ErrorBody,
            "description": "The model is not in production in the scope named, or nothing "
            "served there before it",
        }
    },
)
async def rollback_model(
    session: SessionDep, bus: BusDep, principal: PrincipalDep, model_id: uuid.UUID, body: Rollback
) -> ModelDetail:
    """Take this production model out of its scope and put back the one that served there
    before; answers the model restored, which every inference replica swaps to (a project's
    managers for its models; admins for global ones)."""
    principal.require_user()
    row = await service.rollback(session, bus, principal, model_id, body.scope)
    changes = await service.history(session, row)
    return _detail(ModelPublic.model_validate(row), changes)


_JSON_REPORT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}}
}
_PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "The plot, a PNG image"}
}


@router.get(
    "/{model_id}/evaluation",
    response_class=Response,
    responses=_JSON_REPORT,
    operation_id="get_model_evaluation",
)
async def get_model_evaluation(
    session: SessionDep, store: StoreDep, principal: PrincipalDep, model_id: uuid.UUID
) -> Response:
    """The model's evaluation report, as stored when it was registered (whoever sees the
    model: its project's members, anyone for global ones)."""
    principal.require_user()
    report = await service.evaluation(session, store, principal, model_id)
    return Response(report, media_type="application/json")


@router.get(
    "/{model_id}/evaluation/{plot}.png",
    response_class=Response,
    responses=_PNG,
    operation_id="get_model_evaluation_plot",
)
async def get_model_evaluation_plot(
    session: SessionDep,
    store: StoreDep,
    principal: PrincipalDep,
    model_id: uuid.UUID,
    plot: Annotated[str, Path(description="The plot's name, as the report lists it")],
) -> Response:
    """One plot of the model's evaluation as a PNG image (whoever sees the model: its
    project's members, anyone for global ones)."""
    principal.require_user()
    png = await service.evaluation_plot(session, store, principal, model_id, plot)
    return Response(png, media_type="image/png")
