"""``POST /v1/media``: a gateway or a person posts one image or video.

The body is read here, part by part, as it arrives (not spooled by the framework first):
the caller is checked and rate limited before any of it is read, the fields before the file,
and the file is hashed, sniffed and held to its limit while it streams to a temporary file.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from wildlens.common.auth import Principal
from wildlens.common.errors import (
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    UnsupportedMedia,
    WildlensError,
)
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep, reads_own_body
from wildlens.common.http.errors import ErrorBody, unavailable_response
from wildlens.ingest.deps import (
    BusDep,
    ClientsDep,
    DatabaseDep,
    IngestSettingsDep,
    KeyExpiryDep,
    RateLimitDep,
    StoreDep,
)
from wildlens.ingest.metrics import DUPLICATES, UPLOAD_DURATION, UPLOADS
from wildlens.ingest.ratelimit import TokenBuckets
from wildlens.ingest.references import checked_placement
from wildlens.ingest.scope import upload_scope
from wildlens.ingest.uploads.filenames import sanitise_filename
from wildlens.ingest.uploads.form import UploadForm, openapi_request_body, read_form
from wildlens.ingest.uploads.idempotency import HEADER, KeyClaim, caller_of
from wildlens.ingest.uploads.schemas import MediaAccepted
from wildlens.ingest.uploads.service import UploadRequest, take_upload

router = APIRouter(
    prefix="/v1/media",
    tags=["ingest"],
    responses={
        **ERROR_RESPONSES,
        413: {"model": ErrorBody, "description": "The file is larger than the limit"},
        415: {"model": ErrorBody, "description": "The bytes are not a supported image or video"},
        429: {
            "model": ErrorBody,
            "description": "Too many uploads from this device token; see `Retry-After`",
        },
        503: unavailable_response(
            "The object store, the database or the catalogue (asked whether the deployment or "
            "camera named is the project's) does not answer; nothing was stored, try again "
            "after `Retry-After`"
        ),
    },
)


def _check_early(principal: Principal, form: UploadForm) -> None:
    """Refuse before the file is read when the fields so far already settle it.

    Only where the answer cannot change with fields sent after the file: a device token's
    scope, or a user token with a project named.
    """
    if principal.is_device or form.project_id is not None:
        upload_scope(principal, form.project_id, form.device_id)


def _rate_limit(buckets: TokenBuckets, principal: Principal) -> None:
    """Device tokens only: people uploading by hand are not what floods a replica."""
    if not principal.is_device:
        return
    wait = buckets.take(principal.token_id or principal.subject)
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise TooManyRequests(
            f"too many uploads with this device token; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def _outcome(exc: BaseException) -> str:
    """A bounded label for why an upload did not go through."""
    if isinstance(exc, ClientDisconnect | asyncio.CancelledError):
        return "aborted"
    if isinstance(exc, HTTPException):
        return "rejected_other"
    for kind, label in (
        (PayloadTooLarge, "rejected_too_large"),
        (UnsupportedMedia, "rejected_unsupported_media"),
        (Invalid, "rejected_invalid"),
        (Forbidden, "rejected_forbidden"),
        (NotFound, "rejected_forbidden"),
        (Unauthorized, "rejected_forbidden"),
        (TooManyRequests, "rejected_rate_limited"),
    ):
        if isinstance(exc, kind):
            return label
    if isinstance(exc, WildlensError):
        return "rejected_other"
    return "failed"


class _Measured:
    outcome: str | None = None


@contextmanager
def _measure() -> Iterator[_Measured]:
    started = time.perf_counter()
    measured = _Measured()
    try:
        yield measured
    except BaseException as exc:
        if measured.outcome is None:
            measured.outcome = _outcome(exc)
        raise
    finally:
        outcome = measured.outcome or "failed"
        UPLOADS.labels(outcome).inc()
        UPLOAD_DURATION.labels(outcome).observe(time.perf_counter() - started)


@router.post(
    "",
    status_code=202,
    response_model=MediaAccepted,
    openapi_extra=openapi_request_body(),
)
# The file streams in, held to WILDLENS_INGEST__MAX_IMAGE_BYTES and __MAX_VIDEO_BYTES.
@reads_own_body
async def post_media(
    request: Request,
    database: DatabaseDep,
    store: StoreDep,
    bus: BusDep,
    clients: ClientsDep,
    limits: IngestSettingsDep,
    buckets: RateLimitDep,
    key_expiry: KeyExpiryDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Retries with the same key and the same bytes get the first answer; "
            "the same key with other bytes is refused (422). Remembered for a day by default.",
        ),
    ] = None,
) -> MediaAccepted:
    """Upload one image or video; answers its media id (the same id for the same bytes)."""
    with _measure() as measured:
        try:
            _rate_limit(buckets, principal)
            body = await read_form(
                request,
                limits,
                before_file=lambda f: _check_early(principal, f),
            )
        except ClientDisconnect as exc:
            # Nothing to answer: the client is gone. Everything received was discarded.
            measured.outcome = "aborted"
            raise HTTPException(400, "the client went away before the upload was complete") from exc
        with body.received as received:
            form = body.form
            project, device = upload_scope(principal, form.project_id, form.device_id)
            # Before the bytes are stored: an upload naming another project's deployment or
            # camera is refused while the caller waits, and nothing of it is kept.
            placement = await checked_placement(
                clients, principal, project, device, form.deployment_id
            )
            claim = (
                None
                if idempotency_key is None
                else KeyClaim(
                    caller_of(principal),
                    idempotency_key,
                    ttl_s=limits.idempotency_ttl_s,
                    expiry=key_expiry,
                )
            )
            # The bytes are stored first, then one unit of work: committed before the
            # answer, or nothing of it stays.
            accepted = await take_upload(
                database,
                store,
                bus,
                limits,
                received,
                UploadRequest(
                    project_id=placement.project_id,
                    device_id=placement.device_id,
                    deployment_id=placement.deployment_id,
                    captured_at=form.captured_at,
                    latitude=form.latitude,
                    longitude=form.longitude,
                    filename=sanitise_filename(body.filename),
                    uploaded_by=principal.subject,
                ),
                sniffed=body.sniffed,
                key=claim,
            )
        if accepted.replayed:
            DUPLICATES.labels("idempotency_key").inc()
        measured.outcome = "duplicate" if accepted.duplicate else "accepted"
        return MediaAccepted(
            media_id=accepted.media_id, sha256=accepted.sha256, duplicate=accepted.duplicate
        )
