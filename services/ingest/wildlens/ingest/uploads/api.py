"""``POST /v1/media``: a gateway or a person posts one image or video."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import AwareDatetime

from wildlens.common.auth import Principal
from wildlens.common.errors import Forbidden, Invalid
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep, context_dependency
from wildlens.common.http.errors import ErrorBody
from wildlens.common.service.context import ServiceContext
from wildlens.ingest.media import receive_to_tempfile
from wildlens.ingest.uploads.filenames import sanitise_filename
from wildlens.ingest.uploads.schemas import MediaAccepted
from wildlens.ingest.uploads.service import UploadRequest, accept_upload

router = APIRouter(
    prefix="/v1/media",
    tags=["ingest"],
    responses={
        **ERROR_RESPONSES,
        413: {"model": ErrorBody, "description": "The file is larger than the limit"},
        415: {"model": ErrorBody, "description": "The bytes are not a supported image or video"},
    },
)

ContextDep = Annotated[ServiceContext, Depends(context_dependency("ingest"))]
CHUNK = 1 << 20


def _scope(
    principal: Principal, project_id: uuid.UUID | None, device_id: uuid.UUID | None
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """The project and camera an upload is for, as far as the token allows."""
    if principal.is_device:
        assert principal.project_id is not None
        token_project = uuid.UUID(principal.project_id)
        if project_id is not None and project_id != token_project:
            raise Forbidden("this device token is for another project")
        allowed = [uuid.UUID(d) for d in principal.device_ids]
        if device_id is None:
            # A gateway with several cameras names the camera; with one it need not.
            return token_project, allowed[0] if len(allowed) == 1 else None
        if device_id not in allowed:
            raise Forbidden(f"this device token does not cover device {device_id}")
        return token_project, device_id
    if project_id is None:
        raise Invalid(
            "project_id is required with a user token",
            fields=[{"location": ["body", "project_id"], "message": "required", "type": "missing"}],
        )
    principal.require(str(project_id), "annotator")
    return project_id, device_id


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


@router.post("", status_code=202, response_model=MediaAccepted)
async def post_media(
    ctx: ContextDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="The image or video, as captured.")],
    project_id: Annotated[uuid.UUID | None, Form(description="Required with a user token.")] = None,
    device_id: Annotated[
        uuid.UUID | None, Form(description="The camera, for tokens covering several.")
    ] = None,
    deployment_id: Annotated[uuid.UUID | None, Form()] = None,
    captured_at: Annotated[
        AwareDatetime | None, Form(description="RFC 3339 with offset; wins over EXIF.")
    ] = None,
    latitude: Annotated[float | None, Form(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Form(ge=-180, le=180)] = None,
) -> MediaAccepted:
    """Upload one image or video; answers its media id (the same id for the same bytes)."""
    project, device = _scope(principal, project_id, device_id)
    limits = ctx.settings.ingest
    received = await receive_to_tempfile(
        _chunks(file),
        directory=None,
        max_bytes=max(limits.max_image_bytes, limits.max_video_bytes),
    )
    with received:
        accepted = await accept_upload(
            ctx,
            received,
            UploadRequest(
                project_id=project,
                device_id=device,
                deployment_id=deployment_id,
                captured_at=captured_at,
                latitude=latitude,
                longitude=longitude,
                filename=sanitise_filename(file.filename),
                uploaded_by=principal.subject,
            ),
        )
    return MediaAccepted(
        media_id=accepted.media_id, sha256=accepted.sha256, duplicate=accepted.duplicate
    )
