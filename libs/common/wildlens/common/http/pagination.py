"""Cursor pagination as every list route speaks it: ``?limit=&cursor=`` in, and
``{"items": [...], "next_cursor": "..."}`` out.

A route takes its page with ``PageDep`` (100 items by default, at most 1000) or, where a list
has other bounds, with ``Annotated[PageParams, Depends(page_params(default=..., maximum=...))]``.
A cursor is an opaque, URL-safe encoding of the last item's sort key; what the key is and how
the next page starts after it is ``wildlens.common.db.pagination``'s business.
"""

# No ``from __future__ import annotations``: FastAPI reads the dependency's parameters from
# its annotations, which must be objects, since they hold the bounds of the closure.
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from wildlens.common.errors import FieldError, Invalid

__all__ = [
    "Page",
    "PageDep",
    "PageParams",
    "bad_cursor",
    "decode_cursor",
    "encode_cursor",
    "page_params",
]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class PageParams:
    """Which page a caller asked for."""

    # Items per page, within the route's bounds.
    limit: int
    # ``next_cursor`` of the previous page; None for the first page.
    cursor: str | None = None


def page_params(
    *,
    default: int = 100,
    maximum: int = 1000,
    limit_description: str | None = None,
    cursor_description: str | None = None,
) -> Callable[..., PageParams]:
    """A dependency reading ``limit`` and ``cursor`` from the query string.

    Args:
        default: the page size when the caller gives none.
        maximum: the largest page size the list allows (a larger one is answered 422).
        limit_description: ``limit``'s description in the OpenAPI document.
        cursor_description: ``cursor``'s description in the OpenAPI document.
    """

    def dependency(
        limit: Annotated[int, Query(ge=1, le=maximum, description=limit_description)] = default,
        cursor: Annotated[str | None, Query(description=cursor_description)] = None,
    ) -> PageParams:
        return PageParams(limit=limit, cursor=cursor)

    return dependency


# The page of most lists: 100 items unless the caller asks for up to 1000.
PageDep = Annotated[PageParams, Depends(page_params())]


def bad_cursor() -> Invalid:
    """The error for a cursor this API did not hand out (or one for another list)."""
    message = "cursor is not one this API returned"
    return Invalid(
        message,
        fields=[FieldError(location=["query", "cursor"], message=message, type="value_error")],
    )


def encode_cursor(key: list[Any]) -> str:
    """The opaque cursor for a sort key (JSON values; others are written as strings)."""
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The sort key ``encode_cursor`` wrote; ``bad_cursor()`` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    # Thousands of nested brackets exhaust the parser's recursion: no cursor of ours.
    except (ValueError, RecursionError) as exc:
        raise bad_cursor() from exc
    if not isinstance(value, list):
        raise bad_cursor()
    return value
