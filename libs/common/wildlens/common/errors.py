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
    └── Unavailable          (503) a backend does not answer

Services raise these; one handler renders ``{"error", "detail", "fields"}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Conflict",
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


class WildlensError(Exception):
    status_code: ClassVar[int] = 500

    def __init__(
        self,
        detail: str,
        *,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or []
        # Response headers the caller needs to act on the error (``Retry-After`` on 429).
        self.headers = headers or {}

    @property
    def error(self) -> str:
        return type(self).__name__

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "detail": self.detail}
        if self.fields:
            body["fields"] = self.fields
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
