"""Request bodies within the limits: a body larger than its limit is refused (413) before it is
read, by its ``Content-Length`` where it declares one and by counting where it is chunked.

A JSON body (anything but a multipart form) may be ``WILDLENS_LIMITS__JSON_BODY_BYTES``; a
multipart upload that FastAPI spools whole before the route runs (imports, taxon files,
predictions) ``WILDLENS_LIMITS__UPLOAD_BYTES``. A route whose uploads are larger by nature (a
model bundle) gives its own limit with :func:`body_limit`; one that reads its body as a stream
and holds it to limits of its own (ingest's uploads, the signed object routes) says so with
:func:`reads_own_body`.

The limit is chosen when the body is first read, by which time the router has put the route's
endpoint in the scope; the refusal is raised from ``receive`` as an ``HTTPException``, which
FastAPI passes through its body parsing to the error handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wildlens.common.settings import Settings

__all__ = ["BodyLimit", "BodyTooLarge", "body_limit", "document_body_limits", "reads_own_body"]

F = TypeVar("F", bound=Callable[..., Any])
# A route's own limit: from the settings, and the setting's name for the refusal.
LimitOf = Callable[[Settings], int]

_RULE = "__wildlens_body_limit__"
_DEFAULT = object()


def body_limit(limit: LimitOf, setting: str, hint: str = "") -> Callable[[F], F]:
    """Hold a route's body to a limit of its own (``limit(settings)`` bytes, which
    ``setting`` sets) instead of the JSON or upload limit; ``hint`` ends the refusal (where
    larger inputs go instead)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _RULE, (limit, setting, hint))
        return endpoint

    return mark


def reads_own_body(endpoint: F) -> F:
    """Mark a route that streams its body and enforces limits of its own."""
    setattr(endpoint, _RULE, None)
    return endpoint


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.0f} {unit}" if value.is_integer() else f"{value:.2f} {unit}"
    return f"{n} bytes"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, setting: str, hint: str = "") -> None:
        detail = f"the request body is larger than {_size(limit)}, the limit {setting} sets"
        super().__init__(status_code=413, detail=f"{detail}; {hint}" if hint else detail)


class BodyLimit:
    """ASGI middleware holding request bodies to the limits of ``settings``."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def _limit(self, scope: Scope, multipart: bool) -> tuple[int, str, str] | None:
        rule = getattr(scope.get("endpoint"), _RULE, _DEFAULT)
        if rule is None:
            return None
        if isinstance(rule, tuple):
            limit_of, setting, hint = rule
            return limit_of(self.settings), setting, hint
        if multipart:
            return self.settings.limits.upload_bytes, "WILDLENS_LIMITS__UPLOAD_BYTES", ""
        return self.settings.limits.json_body_bytes, "WILDLENS_LIMITS__JSON_BODY_BYTES", ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        multipart = headers.get("content-type", "").lower().startswith("multipart/")
        try:
            declared: int | None = int(headers.get("content-length", ""))
        except ValueError:
            declared = None
        received = 0

        async def limited() -> Message:
            nonlocal received
            limit = self._limit(scope, multipart)
            if limit is not None and declared is not None and declared > limit[0]:
                raise BodyTooLarge(*limit)
            message = await receive()
            if limit is not None and message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit[0]:
                    raise BodyTooLarge(*limit)
            return message

        await self.app(scope, limited, send)


def document_body_limits(app: FastAPI) -> None:
    """Declare the 413 on every operation that takes a body (those that stream theirs declare
    their own)."""
    generate = app.openapi
    response: dict[str, Any] = {
        "description": "The request body is larger than the limit "
        "(`WILDLENS_LIMITS__JSON_BODY_BYTES`, or `WILDLENS_LIMITS__UPLOAD_BYTES` for an upload)",
    }

    def openapi() -> dict[str, Any]:
        document = generate()
        if "ErrorBody" in document.get("components", {}).get("schemas", {}):
            schema = {"$ref": "#/components/schemas/ErrorBody"}
            response["content"] = {"application/json": {"schema": schema}}
        for path in document.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict) and "requestBody" in operation:
                    operation.setdefault("responses", {}).setdefault("413", response)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
