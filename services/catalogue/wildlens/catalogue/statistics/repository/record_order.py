"""Each detection record's ``previous_epoch``: the time of the record before it among the
project's records of its kind (verified or not), location and taxon, in (epoch, deployment_id,
sequence) order.

A whole project's records get it from one window function as they are made
(``previous_in_order``). When a refresh replaces some sequences' records instead, each record
removed or added is a point (kind, location, taxon, epoch), and the records whose predecessor
may have changed are those at a point's epoch (the record itself and its ties) and those at
the next epoch after it: a removed record's successor, or the records an added one now
precedes. ``renumber`` computes theirs again from the records as they are now.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    String,
    Uuid,
    and_,
    any_,
    bindparam,
    func,
    literal,
    tuple_,
    union_all,
    update,
)
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncConnection

from wildlens.catalogue.models import DetectionRecord

__all__ = ["Point", "previous_in_order", "renumber"]

_RECORDS = DetectionRecord.__table__  # type: ignore[attr-defined]

# (verified, location_id, taxon, epoch) of a record removed or added.
Point = tuple[bool, uuid.UUID, str, int]

# Points per statement: SQLite takes them as a compound SELECT, which it limits to 500 parts.
POINTS_PER_STATEMENT = {"postgresql": 5000, "sqlite": 200}


def previous_in_order(location_id: Any, taxon: Any, epoch: Any, order: Sequence[Any]) -> Any:
    """The window that gives one kind of records (an insert's rows) their ``previous_epoch``;
    ``order`` breaks ties of epoch (deployment_id, sequence)."""
    return func.lag(epoch).over(partition_by=(location_id, taxon), order_by=(epoch, *order))


def _before(r: Any) -> Any:
    """The ``previous_epoch`` of the record ``r`` (a row of the table being updated), read
    from the records as they are now."""
    q = _RECORDS.alias("before")
    return (
        select_columns(q.c.epoch)
        .where(
            q.c.project_id == r.c.project_id,
            q.c.verified == r.c.verified,
            q.c.location_id == r.c.location_id,
            q.c.taxon == r.c.taxon,
            tuple_(q.c.epoch, q.c.deployment_id, q.c.sequence)
            < tuple_(r.c.epoch, r.c.deployment_id, r.c.sequence),
        )
        .order_by(q.c.epoch.desc(), q.c.deployment_id.desc(), q.c.sequence.desc())
        .limit(1)
        .scalar_subquery()
    )


def _points(points: Sequence[Point], arrays: bool) -> Any:
    """The points as rows: verified, location_id, taxon, epoch."""
    names = ("verified", "location_id", "taxon", "epoch")
    if arrays:
        types: tuple[Any, ...] = (Boolean(), Uuid(), String(), BigInteger())
        columns: list[Any] = [
            bindparam(f"point_{name}", [p[i] for p in points], type_=ARRAY(kind))
            for i, (name, kind) in enumerate(zip(names, types, strict=True))
        ]
        return func.unnest(*columns).table_valued(*names).render_derived(name="points")
    rows = [
        select_columns(
            literal(verified, Boolean()).label("verified"),
            literal(location_id, Uuid()).label("location_id"),
            literal(taxon, String()).label("taxon"),
            literal(epoch, BigInteger()).label("epoch"),
        )
        for verified, location_id, taxon, epoch in points
    ]
    return (rows[0] if len(rows) == 1 else union_all(*rows)).subquery("points")


def _stale(project_id: uuid.UUID, points: Sequence[Point], arrays: bool) -> Any:
    """The ids of the records whose predecessor the points may have changed."""
    pts = _points(points, arrays)
    r, q = _RECORDS, _RECORDS.alias("later")

    def same(t: Any) -> list[Any]:
        return [
            t.c.project_id == project_id,
            t.c.verified == pts.c.verified,
            t.c.location_id == pts.c.location_id,
            t.c.taxon == pts.c.taxon,
        ]

    following = (
        select_columns(func.min(q.c.epoch)).where(*same(q), q.c.epoch > pts.c.epoch)
    ).scalar_subquery()
    return (
        select_columns(r.c.id)
        .select_from(pts)
        .join(
            r,
            and_(
                *same(r),
                r.c.epoch >= pts.c.epoch,
                r.c.epoch <= func.coalesce(following, pts.c.epoch),
            ),
        )
        .distinct()
    )


async def renumber(
    connection: AsyncConnection, project_id: uuid.UUID, points: Sequence[Point]
) -> None:
    """Bring ``previous_epoch`` up to date after the records at ``points`` were removed or
    added."""
    arrays = connection.dialect.name == "postgresql"
    per = POINTS_PER_STATEMENT.get(connection.dialect.name, 200)
    unique = sorted(set(points), key=lambda p: (p[0], str(p[1]), p[2], p[3]))
    for i in range(0, len(unique), per):
        stale = _stale(project_id, unique[i : i + per], arrays)
        if arrays:
            # Found first, then named by id: the update reads those rows by their key.
            ids = [found for (found,) in (await connection.execute(stale)).all()]
            if not ids:
                continue
            which = _RECORDS.c.id == any_(bindparam("stale", ids, type_=ARRAY(BigInteger())))
        else:
            which = _RECORDS.c.id.in_(stale)
        await connection.execute(
            update(_RECORDS).where(which).values(previous_epoch=_before(_RECORDS))
        )
