"""Keyset pages over a list whose first sort key may be unknown: media by capture time.

A row comparison cannot step over a NULL, and ``OR key IS NULL`` conditions are served by no
index. Such a list is read in ``Phase``s instead, one after the other: each a query whose keys
are all known (the media with a capture time, then those without), paged as any other list
(``wildlens.common.db.pagination``), and the cursor names the phase it stopped in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db.pagination import SortKey, after, next_page, order_by, read_cursor
from wildlens.common.http.pagination import PageParams, bad_cursor, decode_cursor

__all__ = ["Phase", "page_by_phases"]


@dataclass(frozen=True)
class Phase:
    """One stretch of a list in ``keys`` order, none of its keys NULL."""

    # Named in the cursor: which phase a page stopped in.
    name: str
    query: Any
    # The sort columns; the last must be unique within the phase.
    keys: Sequence[SortKey]
    key_of: Callable[[Any], Sequence[Any]]
    # See ``after``: leading keys an index of the driving table walks in order.
    indexed: int = 0
    # Columns with one value (NULL) in every row of the phase, ordered by before the keys: the
    # order then reads as that of an index that has them first (``captured_at`` in
    # ``(project_id, captured_at, id)``), which PostgreSQL does not infer from ``IS NULL``.
    constant: Sequence[Any] = ()


async def _rows(
    session: AsyncSession, phase: Phase, values: Sequence[Any] | None, limit: int
) -> list[Any]:
    query = phase.query
    if values is not None:
        query = query.where(after(phase.keys, values, indexed=phase.indexed))
    order = [*(c.asc() for c in phase.constant), *order_by(phase.keys)]
    return list((await session.exec(query.order_by(*order).limit(limit))).all())


async def page_by_phases(
    session: AsyncSession, phases: Sequence[Phase], page: PageParams
) -> tuple[list[Any], str | None]:
    """One page of the phases' rows, each phase in its keys' order and the phases one after
    the other, and the cursor of the next page (the phase's name, then its key values).

    Args:
        session: the request's session.
        phases: the list's phases, in the order they are read; distinct names.
        page: the page asked for.
    """
    start, values = 0, None
    if page.cursor:
        raw = decode_cursor(page.cursor)
        names = [p.name for p in phases]
        if not raw or raw[0] not in names:
            raise bad_cursor()
        start = names.index(raw[0])
        values = read_cursor(phases[start].keys, raw[1:])
    # Each phase is asked only for what the page still lacks, plus one row that tells
    # whether there is a next page; later phases are not queried once the page is full.
    found: list[tuple[Phase, Any]] = []
    for phase in phases[start:]:
        rows = await _rows(session, phase, values, page.limit + 1 - len(found))
        found += [(phase, row) for row in rows]
        values = None
        if len(found) > page.limit:
            break
    rows, next_cursor = next_page(
        found, page.limit, lambda phase_row: [phase_row[0].name, *phase_row[0].key_of(phase_row[1])]
    )
    return [row for _, row in rows], next_cursor
