"""Keyset pagination over several sort columns (the last one unique), nulls last.

``page_by_id`` pages by id alone; lists people read in order (media by capture time, taxa by
name) need a sort key first and the id only to break ties, and the capture time may be
unknown. The cursor carries the last row's key values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.errors import Invalid
from wildlens.common.http import decode_cursor, encode_cursor

__all__ = ["SortKey", "page_by_keys"]


@dataclass(frozen=True)
class SortKey:
    column: Any
    # How a cursor value (JSON) turns back into a value of the column.
    parse: Callable[[Any], Any]
    nullable: bool = False


def parse_uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def parse_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("naive datetime")
    return parsed


def parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def _after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    key, value = keys[0], values[0]
    if len(keys) == 1:
        return key.column > value  # type: ignore[no-any-return]
    rest = _after(keys[1:], values[1:])
    if value is None:
        return and_(key.column.is_(None), rest)
    later = or_(key.column > value, and_(key.column == value, rest))
    return or_(later, key.column.is_(None)) if key.nullable else later


async def page_by_keys(
    session: AsyncSession,
    query: Any,
    keys: Sequence[SortKey],
    key_of: Callable[[Any], Sequence[Any]],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """One page of ``query`` in ``keys`` order, and the cursor of the next page.

    Args:
        session: the request's session.
        query: the filtered select.
        keys: the sort columns; the last must be unique (the id).
        key_of: a result row → its values of ``keys`` (JSON-encodable after ``str``).
        limit: rows per page.
        cursor: ``next_cursor`` of the previous page, or None for the first.
    """
    if cursor:
        raw = decode_cursor(cursor)
        if len(raw) != len(keys):
            raise Invalid("cursor is not one this API returned")
        try:
            values = [
                None if v is None and k.nullable else k.parse(v)
                for k, v in zip(keys, raw, strict=True)
            ]
        except (ValueError, TypeError) as exc:
            raise Invalid("cursor is not one this API returned") from exc
        if values[-1] is None:
            query = query.where(false())
        else:
            query = query.where(_after(keys, values))
    order = [k.column.asc().nulls_last() if k.nullable else k.column.asc() for k in keys]
    rows = list((await session.exec(query.order_by(*order).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    last = key_of(rows[limit - 1])
    encoded = [
        v.isoformat() if isinstance(v, datetime) else None if v is None else str(v) for v in last
    ]
    return rows[:limit], encode_cursor(encoded)
