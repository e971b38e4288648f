"""Signed object routes: how browsers and gateways reach the local store in embedded mode.

They play the part of presigned S3 URLs, so they take no bearer token: the signature in the
query string is the whole authorisation.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from wildlens.common.errors import Forbidden

from .base import DEFAULT_CONTENT_TYPE
from .local import LocalStore
from .signing import OBJECTS_PATH

__all__ = ["signed_objects_router"]

_ERROR: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
            }
        }
    }
}


def signed_objects_router(store: LocalStore) -> APIRouter:
    """Routes that serve and accept objects of ``store`` for holders of a signed URL.

    Args:
        store: the local store whose signing key signed the URLs.
    """
    router = APIRouter(prefix=OBJECTS_PATH, tags=["objects"])

    @router.get(
        "/{key:path}",
        operation_id="get_signed_object",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"application/octet-stream": {}}},
            403: {"description": "Signature missing, wrong or expired", **_ERROR},
            404: {"description": "No such object", **_ERROR},
        },
    )
    async def get_signed_object(
        key: str,
        expires: str | None = None,
        signature: str | None = None,
    ) -> StreamingResponse:
        """Download an object with a signed URL."""
        store.check_signature("GET", key, expires, signature)
        info, chunks = await store.open(key)
        return StreamingResponse(
            chunks,
            headers={
                # Set as a header rather than media_type, which would append a charset to
                # text types and so change what was stored.
                "Content-Type": info.content_type,
                "Content-Length": str(info.size),
                "Cache-Control": "private, no-store",
            },
        )

    @router.put(
        "/{key:path}",
        operation_id="put_signed_object",
        status_code=200,
        response_class=Response,
        responses={
            200: {"description": "Stored"},
            403: {"description": "Signature missing, wrong or expired", **_ERROR},
            # A key with a line break matches no route at all (keys never hold one).
            404: {"description": "No such route: the key cannot name an object", **_ERROR},
            422: {"description": "Invalid key", **_ERROR},
        },
    )
    async def put_signed_object(
        key: str,
        request: Request,
        expires: str | None = None,
        signature: str | None = None,
        content_type: str | None = None,
    ) -> Response:
        """Upload an object with a signed URL; it replaces any object under the key."""
        store.check_signature("PUT", key, expires, signature, content_type)
        sent = request.headers.get("content-type")
        if content_type and sent and sent != content_type:
            raise Forbidden(f"the URL was signed for content type {content_type!r}, not {sent!r}")
        await store.put_stream(key, request.stream(), content_type or sent or DEFAULT_CONTENT_TYPE)
        return Response(status_code=200)

    return router
