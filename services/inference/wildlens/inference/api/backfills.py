"""``POST /v1/predict/backfills``: a project manager asks for existing media to be analysed again.

It lives beside ``/v1/predict`` (the inference service's path): the request becomes an
``inference.requested`` event, which inference consumes like any other work, so a backfill of a
whole project survives restarts and spreads over the replicas' queue.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from wildlens.common.errors import Conflict, FieldError, Invalid, NotFound
from wildlens.common.events.v1.inference_pb2 import InferenceRequested
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep, Timestamp, error_response
from wildlens.inference.analysis.backfill import registry_detector
from wildlens.inference.analysis.catalogue import matching_page
from wildlens.inference.api.deps import BusDep, ClientsDep, InferenceRuntimeDep

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/predict/backfills",
    tags=["predict"],
    responses={**ERROR_RESPONSES, 409: error_response("No detector serves the project")},
)


class BackfillRequest(BaseModel):
    project_id: uuid.UUID
    deployment_id: uuid.UUID | None = Field(
        default=None, description="Only this deployment's media"
    )
    captured_from: Timestamp | None = Field(
        default=None, description="Captured at or after this time (RFC 3339 with offset)"
    )
    captured_to: Timestamp | None = Field(
        default=None, description="Captured before this time (RFC 3339 with offset)"
    )
    model_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="A registered detector to use; the one serving the project if omitted",
    )
    model_version: str | None = Field(
        default=None, min_length=1, max_length=100, description="With model_name: this version"
    )

    @model_validator(mode="after")
    def _consistent(self) -> BackfillRequest:
        if self.captured_from and self.captured_to and self.captured_from >= self.captured_to:
            raise ValueError("captured_to must be later than captured_from")
        if self.model_version and not self.model_name:
            raise ValueError("model_version needs model_name")
        return self


class BackfillAccepted(BaseModel):
    request_id: uuid.UUID
    project_id: uuid.UUID


def _timestamp(event: InferenceRequested, field: str, value: datetime | None) -> None:
    if value is not None:
        getattr(event, field).FromDatetime(value)


@router.post("", status_code=202, response_model=BackfillAccepted)
async def request_backfill(
    body: BackfillRequest,
    runtime: InferenceRuntimeDep,
    clients: ClientsDep,
    bus: BusDep,
    principal: PrincipalDep,
) -> BackfillAccepted:
    """Analyse a project's media (or a deployment's, or a time range's) again; managers only."""
    principal.require_user()
    project = str(body.project_id)
    principal.require(project, "manager", what=f"project {body.project_id}")
    # The catalogue checks the deployment belongs to the project (422 otherwise) before any
    # work is queued; the first page is enough for that.
    await matching_page(
        clients,
        project,
        deployment_id=str(body.deployment_id) if body.deployment_id else None,
        captured_from=body.captured_from,
        captured_to=body.captured_to,
    )
    serving = runtime.serving
    if not body.model_name and serving.detector(project) is None:
        raise Conflict(
            f"no detector serves project {body.project_id} yet: promote one, or name a "
            "registered detector in model_name"
        )
    if body.model_name:
        held = serving.find("detector", body.model_name, body.model_version)
        if held is None:
            try:
                await registry_detector(clients, body.model_name, body.model_version)
            except NotFound as exc:
                raise Invalid(
                    exc.detail,
                    fields=[
                        FieldError(
                            location=["body", "model_name"], message=exc.detail, type="value_error"
                        )
                    ],
                ) from exc
    request_id = uuid.uuid4()
    event = InferenceRequested(
        request_id=str(request_id),
        project_id=project,
        deployment_id=str(body.deployment_id) if body.deployment_id else "",
        model_name=body.model_name or "",
        model_version=body.model_version or "",
        requested_by=principal.subject,
    )
    _timestamp(event, "captured_from", body.captured_from)
    _timestamp(event, "captured_to", body.captured_to)
    await bus.publish([event])
    return BackfillAccepted(request_id=request_id, project_id=body.project_id)
