"""Cursor pagination: ``?limit=&cursor=`` → ``{"items": [...], "next_cursor": "..."}``.

A cursor is an opaque, URL-safe encoding of the last item's sort key.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from wildlens.common.errors import Invalid

__all__ = ["Page", "decode_cursor", "encode_cursor"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:
        raise Invalid("cursor is not one this API returned") from exc
    if not isinstance(value, list):
        raise Invalid("cursor is not one this API returned")
    return value
