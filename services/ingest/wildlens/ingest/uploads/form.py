"""The fields of ``POST /v1/media``, read from the multipart body as it streams in."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from wildlens.common.errors import FieldError, Invalid
from wildlens.common.http import Timestamp
from wildlens.ingest.media import Received, Sniffed, receive_to_tempfile
from wildlens.ingest.multipart import MultipartReader, boundary_of
from wildlens.ingest.settings import IngestSettings
from wildlens.ingest.uploads.receiving import SniffedStream

__all__ = ["FILE_FIELD", "ReceivedForm", "UploadForm", "openapi_request_body", "read_form"]

FILE_FIELD = "file"
# A form value is a UUID, a timestamp or a number: anything longer is not one of ours.
_MAX_FIELD_BYTES = 1024
# Parts with names we do not know are skipped, but only up to this size each.
_MAX_OTHER_PART_BYTES = 64 * 1024


class UploadForm(BaseModel):
    """What may accompany the file; every field is optional."""

    model_config = ConfigDict(extra="ignore")

    project_id: uuid.UUID | None = Field(default=None, description="Required with a user token.")
    device_id: uuid.UUID | None = Field(
        default=None, description="The camera, for tokens covering several."
    )
    deployment_id: uuid.UUID | None = Field(
        default=None,
        description="A deployment of the project; with a device token, of one of its cameras.",
    )
    captured_at: Timestamp | None = Field(
        default=None, description="RFC 3339 with offset; wins over EXIF."
    )
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


_FIELDS = frozenset(UploadForm.model_fields)


def openapi_request_body() -> dict[str, Any]:
    """The request body as OpenAPI describes it: the form fields and the file, in binary."""
    schema = UploadForm.model_json_schema()
    schema["title"] = "PostMediaForm"
    schema["properties"] = {
        FILE_FIELD: {
            "type": "string",
            "format": "binary",
            "description": "The image or video, as captured.",
        },
        **schema["properties"],
    }
    schema["required"] = [FILE_FIELD]
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": schema}},
        }
    }


def _missing_file() -> Invalid:
    return Invalid(
        "the request is malformed: body.file: a file part is required "
        "(multipart/form-data with a part named 'file')",
        fields=[
            FieldError(location=["body", FILE_FIELD], message="Field required", type="missing")
        ],
    )


def validate_fields(values: dict[str, str]) -> UploadForm:
    """Validate the fields received so far, naming each bad one as FastAPI would."""
    try:
        return UploadForm.model_validate(values)
    except ValidationError as exc:
        fields = [
            FieldError(
                location=["body", *(str(p) for p in err["loc"])],
                message=err["msg"],
                type=err["type"],
            )
            for err in exc.errors()
        ]
        where = "; ".join(
            f"{'.'.join(str(p) for p in f.location)}: {f.message}" for f in fields[:5]
        )
        raise Invalid(f"the request is malformed: {where}", fields=fields) from exc


@dataclass(frozen=True)
class ReceivedForm:
    """The validated fields and the file on local disk (the caller discards it)."""

    form: UploadForm
    received: Received
    sniffed: Sniffed
    filename: str | None


async def read_form(
    request: Request,
    limits: IngestSettings,
    *,
    before_file: Callable[[UploadForm], None],
) -> ReceivedForm:
    """Read the body, streaming the file part to a temporary file as it arrives.

    Args:
        request: the upload request; its body is read here and nowhere else.
        limits: the size limits for images and videos.
        before_file: called with the fields that came before the file, before any of the
            file is read, so that a caller who may not upload is refused at once.

    Raises:
        Invalid: a malformed body, a bad field (named in ``fields``), no file or two files.
        PayloadTooLarge, UnsupportedMedia: from :class:`SniffedStream`.
    """
    boundary = boundary_of(request.headers.get("content-type"))
    if boundary is None:
        raise _missing_file()
    reader = MultipartReader(request.stream(), boundary)
    values: dict[str, str] = {}
    got: tuple[Received, Sniffed, str | None] | None = None
    try:
        while (part := await reader.next_part()) is not None:
            if part.name == FILE_FIELD:
                if got is not None:
                    raise Invalid(
                        "send one file per upload (POST /v1/uploads takes many)",
                        fields=[
                            FieldError(
                                location=["body", FILE_FIELD],
                                message="more than one file",
                                type="too_many",
                            )
                        ],
                    )
                before_file(validate_fields(values))
                stream = SniffedStream(part, limits)
                received = await receive_to_tempfile(
                    stream,
                    directory=None,
                    max_bytes=max(limits.max_image_bytes, limits.max_video_bytes),
                )
                assert stream.sniffed is not None  # decided at the latest at the end
                got = (received, stream.sniffed, part.filename)
            elif part.name in _FIELDS:
                if part.name in values:
                    raise Invalid(
                        f"form field {part.name!r} is given more than once",
                        fields=[
                            FieldError(
                                location=["body", part.name],
                                message="given twice",
                                type="duplicate",
                            )
                        ],
                    )
                value = (await part.text(limit=_MAX_FIELD_BYTES)).strip()
                if value:
                    # An empty value is an absent one, as HTML forms send unset fields.
                    values[part.name] = value
            else:
                await part.drain(limit=_MAX_OTHER_PART_BYTES)
        if got is None:
            raise _missing_file()
        form = validate_fields(values)
    except BaseException:
        if got is not None:
            got[0].discard()
        raise
    received, sniffed, filename = got
    return ReceivedForm(form=form, received=received, sniffed=sniffed, filename=filename)
