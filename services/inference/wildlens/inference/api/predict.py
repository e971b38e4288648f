"""``POST /v1/predict``: one image in, MegaDetector batch output out, for external apps.

The image is either uploaded, or named by the ``media_id`` of a media item the caller may read
(the catalogue decides, with the caller's own token, and hands out the download URL; a caller
never names an object key). It goes through the same micro-batcher as the bus consumer, so
predictions share model runs with the backlog instead of competing with it.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from wildlens.common.errors import FieldError, Invalid, PayloadTooLarge
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep
from wildlens.common.service.clients import ServiceClients
from wildlens.common.storage import ObjectStore, download
from wildlens.inference.analysis.catalogue import caller_media, find_media_url
from wildlens.inference.api.deps import ClientsDep, InferenceRuntimeDep, SettingsDep, StoreDep
from wildlens.inference.api.megadetector import BatchOutput, PredictedImage, batch_output
from wildlens.inference.settings import InferenceSettings

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/predict",
    tags=["predict"],
    responses={
        **ERROR_RESPONSES,
        413: {"description": "The image is larger than the service accepts"},
        503: {"description": "No detector serves yet, or the catalogue does not answer"},
    },
)

CHUNK = 1 << 20


async def _read_upload(upload: UploadFile, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the image is larger than {limit} bytes")
        parts.append(chunk)
    if size == 0:
        raise Invalid(
            "the uploaded file is empty",
            fields=[
                FieldError(location=["body", "file"], message="file is empty", type="value_error")
            ],
        )
    return b"".join(parts)


async def _stored_image(
    clients: ServiceClients,
    store: ObjectStore,
    request: Request,
    media_id: uuid.UUID,
    project_id: uuid.UUID | None,
) -> tuple[bytes, str]:
    """The bytes of a media item the caller may read, and its project."""
    if project_id is not None:
        raise Invalid(
            "project_id is for uploads; a media item is analysed with its own project's model",
            fields=[
                FieldError(
                    location=["body", "project_id"], message="not with media_id", type="value_error"
                )
            ],
        )
    media = await caller_media(clients, request.headers.get("Authorization", ""), media_id)
    if media.get("kind") not in ("image", "frame"):
        raise Invalid(
            f"media {media_id} is a {media.get('kind')}; videos are analysed through their "
            "frames: send a frame's media_id"
        )
    url = await find_media_url(clients, media)
    return await download(store, url), str(media["project_id"])


@router.post(
    "",
    response_model=BatchOutput,
    response_model_exclude_none=True,
    summary="Detect animals, people and vehicles in one image",
)
async def predict(
    request: Request,
    runtime: InferenceRuntimeDep,
    clients: ClientsDep,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    file: Annotated[
        UploadFile | None, File(description="The image (JPEG, PNG, TIFF, WebP)")
    ] = None,
    media_id: Annotated[
        uuid.UUID | None, Form(description="Or: a media item you may read, by its id")
    ] = None,
    project_id: Annotated[
        uuid.UUID | None,
        Form(description="For an upload: use this project's own detector, where it has one"),
    ] = None,
) -> BatchOutput:
    """Run the detector on one image and answer in the MegaDetector batch output format."""
    principal.require_user()
    if (file is None) == (media_id is None):
        raise Invalid(
            "send exactly one of 'file' (an image upload) and 'media_id'",
            fields=[
                FieldError(
                    location=["body", "file" if file is None else "media_id"],
                    message="send exactly one of file and media_id",
                    type="value_error",
                )
            ],
        )
    analyzer = runtime.analyzer
    if file is not None:
        if project_id is not None:
            principal.require(str(project_id), "viewer", what=f"project {project_id}")
        data = await _read_upload(file, InferenceSettings.of(settings).max_predict_bytes)
        scope = str(project_id) if project_id else None
        name, subject_id = file.filename or "upload", ""
    else:
        assert media_id is not None
        data, scope = await _stored_image(clients, store, request, media_id, project_id)
        name = subject_id = str(media_id)

    detector = analyzer.detector_for(scope)

    async def fetch() -> bytes:
        return data

    # The consumer's own path: detection through the shared batcher, then the species
    # classifier on the animal crops where one serves.
    (result,) = await analyzer.analyze_many(
        [(subject_id, scope or "", fetch)], source="predict", detector=detector
    )
    if result.failure:
        raise Invalid(
            f"{result.failure}; send a JPEG, PNG, TIFF or WebP image",
            fields=[
                FieldError(location=["body", "file"], message=result.failure, type="value_error")
            ],
        )
    return batch_output(detector, [PredictedImage(file=name, result=result)])
