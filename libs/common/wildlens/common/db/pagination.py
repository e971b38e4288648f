"""Keyset pagination by id, the way every list endpoint pages: stable under inserts, and no
OFFSET scans on large tables."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from wildlens.common.errors import Invalid
from wildlens.common.http.pagination import decode_cursor, encode_cursor

__all__ = ["page_by_id"]

T = TypeVar("T")


async def page_by_id(
    session: AsyncSession,
    query: SelectOfScalar[T],
    id_column: Any,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """One page of ``query`` ordered by a UUID id column, and the cursor of the next page.

    Args:
        session: the request's session.
        query: a select of one model, already filtered to what the caller may see.
        id_column: the model's UUID primary key column.
        limit: rows per page.
        cursor: ``next_cursor`` of the previous page, or None for the first.
    """
    if cursor:
        try:
            after = uuid.UUID(str(decode_cursor(cursor)[0]))
        except (ValueError, IndexError) as exc:
            raise Invalid("cursor is not one this API returned") from exc
        query = query.where(id_column > after)
    rows = list((await session.exec(query.order_by(id_column).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([str(getattr(last, "id"))])  # noqa: B009
