"""Every error leaves as ``{"error", "detail", "fields"}``; never a bare 500 for bad input."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from wildlens.common.db.failures import database_unreachable
from wildlens.common.errors import FieldError, Invalid, Unavailable, WildlensError

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "document_unparsable_bodies",
    "error_response",
    "install_error_handlers",
    "unavailable_response",
]

log = structlog.get_logger(__name__)


class ErrorBody(BaseModel):
    error: str
    detail: str
    fields: list[FieldError] = []


def error_response(description: str) -> dict[str, Any]:
    """One documented error status of a route: the error body, and when it is answered."""
    return {"model": ErrorBody, "description": description}


def unavailable_response(description: str) -> dict[str, Any]:
    """A documented 503: the error body and the ``Retry-After`` header every 503 carries
    (``Unavailable``)."""
    return {
        **error_response(description),
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "integer"},
            }
        },
    }


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: error_response("Missing or invalid token"),
    403: error_response("The token lacks the permission"),
    404: error_response("Not found, or in a project the caller cannot see"),
    422: error_response("The request is malformed; `fields` says where"),
    # Every route of the API reads or writes the database, and many the bus or the object
    # store; while one of them does not answer, the route says so rather than fail.
    503: unavailable_response(
        "A backend the request needs (database, bus, object store or another service) does "
        "not answer; nothing was half-stored, try again after `Retry-After`"
    ),
}

# What FastAPI and Starlette answer for a body they cannot read at all (bytes that are not
# JSON text, a multipart body without its boundaries), before any route sees it.
UNPARSABLE_BODY = "The body cannot be parsed: not JSON text, or not well-formed multipart"


def document_unparsable_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """Declare 400 on every operation of ``document`` that takes a body.

    The framework answers it for them all alike, so it is declared here once rather than on
    each route (where a new route would forget it).
    """
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            operation.setdefault("responses", {}).setdefault(
                "400",
                {
                    "description": UNPARSABLE_BODY,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                    },
                },
            )
    return document


_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMedia",
    422: "Invalid",
    429: "TooManyRequests",
    503: "Unavailable",
}


def _wildlens_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WildlensError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers or None)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        FieldError(
            location=[p if isinstance(p, int) else str(p) for p in err.get("loc", ())],
            message=str(err.get("msg", "")),
            type=str(err.get("type", "")),
        )
        for err in exc.errors()
    ]
    where = "; ".join(f"{'.'.join(str(p) for p in f.location)}: {f.message}" for f in fields[:5])
    return _wildlens_error(request, Invalid(f"the request is malformed: {where}", fields=fields))


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    name = _NAMES.get(exc.status_code, "Error")
    return JSONResponse(
        {"error": name, "detail": str(exc.detail)},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if database_unreachable(exc):
        # A database used outside a transaction (which says Unavailable itself) went away:
        # the caller should come back, not take it for a bug.
        log.warning("http.database_unreachable", error=str(exc))
        return _wildlens_error(request, Unavailable("the database does not answer"))
    log.exception("http.unhandled_error", error=str(exc))
    return JSONResponse(
        {"error": "InternalError", "detail": "an unexpected error occurred; it has been logged"},
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WildlensError, _wildlens_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
