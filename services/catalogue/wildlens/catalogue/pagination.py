"""Keyset pagination over several sort columns (the last one unique).

Lists people read in order (media by capture time, taxa by name) need a sort key first and
the id only to break ties. The cursor carries the last row's key values, and the next page
starts after them with one row-value comparison, ``(a, b) > (x, y)``: PostgreSQL and SQLite
both answer it, and PostgreSQL starts an index scan on ``(…, a, b)`` right at the cursor, so
a deep page costs what the first one does.

A row comparison cannot step over a NULL, and a sort key that may be unknown (a capture
time) would need ``OR key IS NULL`` conditions that no index serves. Such a list is read in
``Phase``s instead, one after the other: each a query whose keys are all known (the media
with a capture time, then those without), and the cursor names the phase it stopped in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, tuple_
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.errors import Invalid
from wildlens.common.http import decode_cursor, encode_cursor

__all__ = ["Phase", "SortKey", "page_by_keys", "page_by_phases"]

NOT_OURS = "cursor is not one this API returned"


@dataclass(frozen=True)
class SortKey:
    column: Any
    # How a cursor value (JSON) turns back into a value of the column.
    parse: Callable[[Any], Any]


@dataclass(frozen=True)
class Phase:
    """One stretch of a list in ``keys`` order, none of its keys NULL."""

    # Named in the cursor: which phase a page stopped in.
    name: str
    query: Any
    # The sort columns; the last must be unique within the phase.
    keys: Sequence[SortKey]
    key_of: Callable[[Any], Sequence[Any]]
    # How many leading keys an index of the table that drives the query walks in order. When
    # the keys span two tables (media then observations), the planner cannot push the whole
    # row comparison into that index scan, so these keys are also compared on their own.
    indexed: int = 0
    # Columns with one value (NULL) in every row of the phase, ordered by before the keys: the
    # order then reads as that of an index that has them first (``captured_at`` in
    # ``(project_id, captured_at, id)``), which PostgreSQL does not infer from ``IS NULL``.
    constant: Sequence[Any] = ()


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


def _parse(keys: Sequence[SortKey], raw: Sequence[Any]) -> list[Any]:
    if len(raw) != len(keys):
        raise Invalid(NOT_OURS)
    try:
        return [k.parse(v) for k, v in zip(keys, raw, strict=True)]
    except (ValueError, TypeError) as exc:
        raise Invalid(NOT_OURS) from exc


def _beyond(keys: Sequence[SortKey], values: Sequence[Any], *, inclusive: bool = False) -> Any:
    columns = [k.column for k in keys]
    if len(columns) == 1:
        return columns[0] >= values[0] if inclusive else columns[0] > values[0]
    # A plain tuple on the right binds each value with its column's type (UTC timestamps).
    row = tuple_(*columns)
    return row >= tuple(values) if inclusive else row > tuple(values)


def _after(keys: Sequence[SortKey], values: Sequence[Any], indexed: int) -> ColumnElement[bool]:
    after = _beyond(keys, values)
    if 0 < indexed < len(keys):
        return and_(_beyond(keys[:indexed], values[:indexed], inclusive=True), after)
    return after  # type: ignore[no-any-return]


def _encode(values: Sequence[Any]) -> list[str]:
    return [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]


async def _rows(
    session: AsyncSession, phase: Phase, values: Sequence[Any] | None, limit: int
) -> list[Any]:
    query = phase.query
    if values is not None:
        query = query.where(_after(phase.keys, values, phase.indexed))
    order = [*phase.constant, *(k.column for k in phase.keys)]
    ordered = query.order_by(*(c.asc() for c in order)).limit(limit)
    return list((await session.exec(ordered)).all())


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
        keys: the sort columns, none of them NULL; the last must be unique (the id).
        key_of: a result row → its values of ``keys`` (JSON-encodable after ``str``).
        limit: rows per page.
        cursor: ``next_cursor`` of the previous page, or None for the first.
    """
    phase = Phase("", query, keys, key_of)
    values = _parse(keys, decode_cursor(cursor)) if cursor else None
    rows = await _rows(session, phase, values, limit + 1)
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(_encode(key_of(rows[limit - 1])))


async def page_by_phases(
    session: AsyncSession,
    phases: Sequence[Phase],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """One page of the phases' rows, each phase in its keys' order and the phases one after
    the other, and the cursor of the next page (the phase's name, then its key values).

    Args:
        session: the request's session.
        phases: the list's phases, in the order they are read; distinct names.
        limit: rows per page.
        cursor: ``next_cursor`` of the previous page, or None for the first.
    """
    start, values = 0, None
    if cursor:
        raw = decode_cursor(cursor)
        names = [p.name for p in phases]
        if not raw or raw[0] not in names:
            raise Invalid(NOT_OURS)
        start = names.index(raw[0])
        values = _parse(phases[start].keys, raw[1:])
    # Each phase is asked only for what the page still lacks, plus one row that tells
    # whether there is a next page; later phases are not queried once the page is full.
    found: list[tuple[Phase, Any]] = []
    for phase in phases[start:]:
        rows = await _rows(session, phase, values, limit + 1 - len(found))
        found += [(phase, row) for row in rows]
        values = None
        if len(found) > limit:
            break
    rows = [row for _, row in found[:limit]]
    if len(found) <= limit:
        return rows, None
    phase, last = found[limit - 1]
    return rows, encode_cursor([phase.name, *_encode(phase.key_of(last))])
