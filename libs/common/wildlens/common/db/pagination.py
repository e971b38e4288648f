"""Keyset pagination, the way every list pages: stable under inserts, and no OFFSET scans on
large tables.

A list is read in the order of its sort keys, the last of them unique (the id breaks ties).
The cursor carries the last row's key values, and the next page starts after them with one
row-value comparison, ``(a, b) > (x, y)``: PostgreSQL and SQLite both answer it, and
PostgreSQL starts an index scan on ``(…, a, b)`` right at the cursor, so a deep page costs
what the first one does. One row more than the page is read, to know whether a next page
exists without counting.

A sort key may run either way (the newest first); a list whose keys run both ways (the
highest score, then the lowest id) is compared key by key instead. A key must never be NULL:
a row comparison cannot step over a NULL (see the catalogue's phased lists for one that may).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_, tuple_
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from wildlens.common.http.pagination import PageParams, bad_cursor, decode_cursor, encode_cursor

__all__ = [
    "SortKey",
    "after",
    "cursor_of",
    "next_page",
    "order_by",
    "page_by_id",
    "page_by_keys",
    "parse_datetime",
    "parse_float",
    "parse_int",
    "parse_str",
    "parse_uuid",
    "read_cursor",
]

R = TypeVar("R")
T = TypeVar("T")


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


def parse_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not a whole number")
    return value


def parse_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("not a number")
    return float(value)


@dataclass(frozen=True)
class SortKey:
    """One column a list is ordered by."""

    column: Any
    # How a value of the cursor (JSON) turns back into a value of the column; raises
    # ValueError or TypeError for one this key never wrote.
    parse: Callable[[Any], Any] = parse_uuid
    descending: bool = False


def read_cursor(keys: Sequence[SortKey], raw: Sequence[Any]) -> list[Any]:
    """The key values a decoded cursor carries, each parsed by its key; 422 for others.

    Args:
        keys: the list's sort keys.
        raw: the cursor's key values, as ``decode_cursor`` gives them (less what a caller put
            before them, such as a phase name).
    """
    if len(raw) != len(keys):
        raise bad_cursor()
    try:
        return [k.parse(v) for k, v in zip(keys, raw, strict=True)]
    except (ValueError, TypeError) as exc:
        raise bad_cursor() from exc


def cursor_of(values: Sequence[Any]) -> str:
    """The cursor after a row with these key values.

    Numbers stay JSON numbers, times are written in ISO 8601 with their offset, anything else
    (UUIDs) as text: what the parsers above read back.
    """
    key: list[Any] = []
    for value in values:
        if isinstance(value, datetime):
            key.append(value.isoformat())
        elif isinstance(value, int | float) and not isinstance(value, bool):
            key.append(value)
        else:
            key.append(str(value))
    return encode_cursor(key)


def _compare(left: Any, right: Any, descending: bool, inclusive: bool) -> Any:
    if descending:
        return left <= right if inclusive else left < right
    return left >= right if inclusive else left > right


def _beyond(keys: Sequence[SortKey], values: Sequence[Any], *, inclusive: bool = False) -> Any:
    if len(keys) == 1:
        return _compare(keys[0].column, values[0], keys[0].descending, inclusive)
    if len({k.descending for k in keys}) == 1:
        # A plain tuple on the right binds each value with its column's type (UTC timestamps).
        row = tuple_(*(k.column for k in keys))
        return _compare(row, tuple(values), keys[0].descending, inclusive)
    # Keys running both ways: no row comparison says that, so spell it out key by key.
    alternatives = []
    for i, key in enumerate(keys):
        ties = [k.column == v for k, v in zip(keys[:i], values[:i], strict=True)]
        last = i == len(keys) - 1
        alternatives.append(
            and_(*ties, _compare(key.column, values[i], key.descending, inclusive and last))
        )
    return or_(*alternatives)


def after(
    keys: Sequence[SortKey], values: Sequence[Any], *, indexed: int = 0
) -> ColumnElement[bool]:
    """The condition for rows that come after the row with key values ``values``.

    Args:
        keys: the list's sort keys.
        values: the last row's values of ``keys`` (``read_cursor`` gives them).
        indexed: how many leading keys an index of the table that drives the query walks in
            order. When the keys span two tables (media, then observations), the planner
            cannot push the whole row comparison into that index scan, so these keys are also
            compared on their own. 0 when the comparison needs no such help.
    """
    beyond = _beyond(keys, values)
    if 0 < indexed < len(keys):
        return and_(_beyond(keys[:indexed], values[:indexed], inclusive=True), beyond)
    return beyond  # type: ignore[no-any-return]


def order_by(keys: Sequence[SortKey]) -> list[Any]:
    """The ``ORDER BY`` of a list with these keys."""
    return [k.column.desc() if k.descending else k.column.asc() for k in keys]


def next_page(
    rows: Sequence[R], limit: int, key_of: Callable[[R], Sequence[Any]]
) -> tuple[list[R], str | None]:
    """The page out of up to ``limit + 1`` rows read, and the cursor of the next page (None
    when the extra row is not there: this was the last page).

    Args:
        rows: the rows read after the cursor, in order, at most ``limit + 1`` of them.
        limit: rows per page.
        key_of: a row → what its cursor carries: its values of the sort keys (after a phase
            name, for a list read in phases).
    """
    if len(rows) <= limit:
        return list(rows), None
    return list(rows[:limit]), cursor_of(key_of(rows[limit - 1]))


async def page_by_keys(
    session: AsyncSession,
    query: Any,
    keys: Sequence[SortKey],
    key_of: Callable[[Any], Sequence[Any]],
    page: PageParams,
) -> tuple[list[Any], str | None]:
    """One page of ``query`` in ``keys`` order, and the cursor of the next page.

    Args:
        session: the request's session.
        query: the select, already filtered to what the caller may see and unordered.
        keys: the sort keys, none of them NULL; the last must be unique (the id).
        key_of: a result row → its values of ``keys``.
        page: the page asked for.
    """
    if page.cursor:
        query = query.where(after(keys, read_cursor(keys, decode_cursor(page.cursor))))
    rows = (await session.exec(query.order_by(*order_by(keys)).limit(page.limit + 1))).all()
    return next_page(list(rows), page.limit, key_of)


async def page_by_id(
    session: AsyncSession, query: SelectOfScalar[T], id_column: Any, page: PageParams
) -> tuple[list[T], str | None]:
    """One page of ``query`` (a select of one model) in the order of its UUID id column.

    Args:
        session: the request's session.
        query: a select of one model, already filtered to what the caller may see.
        id_column: the model's UUID primary key column.
        page: the page asked for.
    """
    return await page_by_keys(session, query, [SortKey(id_column)], lambda row: [row.id], page)
