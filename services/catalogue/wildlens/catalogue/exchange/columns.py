"""How long the text a table column holds may be, read from the table itself so that an
importer refuses what the database would (PostgreSQL) or would keep whole (SQLite)."""

from __future__ import annotations

from typing import Any

__all__ = ["column_length"]


def column_length(model: Any, attribute: str) -> int | None:
    """The most characters ``model``'s column ``attribute`` holds; None for free text."""
    length = getattr(model.__table__.c[attribute].type, "length", None)
    return length if isinstance(length, int) else None
