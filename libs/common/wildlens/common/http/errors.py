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

__all__ = ["ERROR_RESPONSES", "ErrorBody", "install_error_handlers"]

log = structlog.get_logger(__name__)


class ErrorBody(BaseModel):
    error: str
    detail: str
    fields: list[FieldError] = []


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid token"},
    403: {"model": ErrorBody, "description": "The token lacks the permission"},
    404: {"model": ErrorBody, "description": "Not found, or in a project the caller cannot see"},
    422: {"model": ErrorBody, "description": "The request is malformed; `fields` says where"},
}

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
