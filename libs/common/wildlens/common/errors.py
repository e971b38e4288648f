"""One error family for the whole platform.

    WildlensError            (500)
    ├── Invalid              (422) the request is malformed; ``fields`` says where
    ├── Unauthorized         (401) no or bad credentials
    ├── Forbidden            (403) credentials fine, permission missing
    ├── NotFound             (404) also for objects in projects the caller cannot see
    ├── Conflict             (409)
    ├── PayloadTooLarge      (413)
    ├── UnsupportedMedia     (415)
    ├── TooManyRequests      (429)
    └── Unavailable          (503) a backend does not answer; always with ``Retry-After``

Services raise these; one handler renders ``{"error", "detail", "fields"}``, where each of
``fields`` is a ``FieldError``: ``{"location", "message", "type"}``, the shape FastAPI's own
validation errors take, so a client reads every 422 the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

__all__ = [
    "Conflict",
    "FieldError",
    "Forbidden",
    "Invalid",
    "NotFound",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMedia",
    "WildlensError",
]


# No docstring on purpose: a model's docstring becomes its description in the OpenAPI
# document, which clients are generated from; this one is described in the README.
class FieldError(BaseModel):
    # Where the problem is: first the part of the request ("body", "query", "path",
    # "header", or "file" for a line of an uploaded file), then names and list indexes
    # down to the value, e.g. ["body", "entries", 2, "taxon_id"] or ["query", "cursor"].
    location: list[str | int]
    # What is wrong, for a person.
    message: str
    # What kind of problem, for a program: "missing", "value_error", or FastAPI's own types.
    type: str


class WildlensError(Exception):
    status_code: ClassVar[int] = 500

    def __init__(
        self,
        detail: str,
        *,
        fields: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields: list[FieldError] = list(fields or [])
        # Response headers the caller needs to act on the error (``Retry-After`` on 429).
        self.headers = headers or {}

    @property
    def error(self) -> str:
        return type(self).__name__

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "detail": self.detail}
        if self.fields:
            body["fields"] = [f.model_dump(mode="json") for f in self.fields]
        return body


class Invalid(WildlensError):
    status_code = 422


class Unauthorized(WildlensError):
    status_code = 401


class Forbidden(WildlensError):
    status_code = 403


class NotFound(WildlensError):
    status_code = 404


class Conflict(WildlensError):
    status_code = 409


class PayloadTooLarge(WildlensError):
    status_code = 413


class UnsupportedMedia(WildlensError):
    status_code = 415


class TooManyRequests(WildlensError):
    status_code = 429


class Unavailable(WildlensError):
    status_code = 503
    # Seconds a client is told to wait (``Retry-After``) unless the raiser knows better: long
    # enough not to hammer a backend that is restarting, short enough that a gateway's next
    # try soon finds it back.
    retry_after: ClassVar[int] = 5

    def __init__(
        self,
        detail: str,
        *,
        fields: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        wait = self.retry_after if retry_after is None else retry_after
        super().__init__(
            detail, fields=fields, headers={"Retry-After": str(wait), **(headers or {})}
        )
