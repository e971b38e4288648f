"""The statistics' aggregates read from the per-minute summaries.

They answer exactly what ``records`` answers from the observations, under two conditions
``covers`` checks: the scope's time bounds fall on whole minutes, and the independence
interval is at least a minute. Then every record of a summary minute is less than a minute
from the one before it, so within one (taxon, location, minute) no record but the first can
start a detection, and the first does when every earlier record ended more than the interval
before it: a window over minutes gives the same detections as one over records.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, true
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    SECONDS_PER_MINUTE,
    Deployment,
    DetectionMinute,
    MediaMinute,
)
from wildlens.catalogue.queries.filters import in_taxon
from wildlens.catalogue.statistics.params import Scope
from wildlens.catalogue.statistics.repository.records import SECONDS_PER_DAY

__all__ = [
    "activity_by_hour",
    "counts_by_location",
    "covers",
    "first_seen",
    "media_by_deployment",
]


def _on_minute(at: datetime | None) -> bool:
    return at is None or at.timestamp() % SECONDS_PER_MINUTE == 0


def covers(s: Scope, interval_s: int | None = None) -> bool:
    """Whether the summaries answer for this scope (and independence interval) exactly."""
    if not (_on_minute(s.captured_from) and _on_minute(s.captured_to)):
        return False
    return interval_s is None or interval_s >= SECONDS_PER_MINUTE


def _minute_bounds(minute: Any, s: Scope) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if s.captured_from is not None:
        where.append(minute >= int(s.captured_from.timestamp()) // SECONDS_PER_MINUTE)
    if s.captured_to is not None:
        where.append(minute < int(s.captured_to.timestamp()) // SECONDS_PER_MINUTE)
    return where


def _sites(s: Scope) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if s.location_ids:
        where.append(col(Deployment.location_id).in_(s.location_ids))
    if s.deployment_ids:
        where.append(col(Deployment.id).in_(s.deployment_ids))
    return where


def _filters(project_id: uuid.UUID, s: Scope) -> list[ColumnElement[bool]]:
    """The scope as conditions on the detection minutes alone."""
    dm = DetectionMinute.__table__.c  # type: ignore[attr-defined]
    where: list[ColumnElement[bool]] = [dm.project_id == project_id, *_minute_bounds(dm.minute, s)]
    if s.location_ids:
        where.append(dm.location_id.in_(s.location_ids))
    if s.deployment_ids:
        where.append(dm.deployment_id.in_(s.deployment_ids))
    if s.verified_only:
        where.append(dm.verified == true())
    if s.taxon_id is not None:
        where.append(in_taxon(dm.taxon_id, dm.taxon, s.taxon_id))
    return where


def _runs(project_id: uuid.UUID, s: Scope, interval_s: int) -> Any:
    """The scope's detection minutes, each with ``independent`` 1 where it starts a
    detection: where every record before it at the location ended more than the interval
    before its first.

    The rows are read in (location, taxon, minute, first) order straight from a covering
    index, and the window only carries the latest end so far along (one pass, no sort): rows
    of one minute can overlap, but none after a minute's first is more than 59 seconds from
    it, so only the minute's first row can start a detection.
    """
    dm = DetectionMinute.__table__.c  # type: ignore[attr-defined]
    previous_last = func.max(dm.last_epoch).over(
        partition_by=(dm.location_id, dm.taxon),
        order_by=(dm.minute, dm.first_epoch),
        rows=(None, -1),
    )
    independent = case(
        (previous_last.is_(None), 1), (dm.first_epoch - previous_last > interval_s, 1), else_=0
    )
    return (
        select_columns(
            dm.taxon,
            dm.location_id,
            (dm.first_epoch + dm.utc_offset_s).label("local_first"),
            dm.records,
            dm.individuals,
            independent.label("independent"),
        )
        .where(*_filters(project_id, s))
        .subquery("runs")
    )


async def counts_by_location(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> list[tuple[str, uuid.UUID, int, int, int]]:
    r = _runs(project_id, s, interval_s).c
    query = select_columns(
        r.taxon,
        r.location_id,
        func.sum(r.independent),
        func.sum(r.records),
        func.sum(r.individuals),
    ).group_by(r.taxon, r.location_id)
    rows: Any = (await session.exec(query)).all()  # type: ignore[call-overload]
    return [(t, loc, int(d), int(n), int(i)) for t, loc, d, n, i in rows]


async def activity_by_hour(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> list[tuple[str, int, int]]:
    r = _runs(project_id, s, interval_s).c
    hour = (r.local_first % SECONDS_PER_DAY) // 3600
    query = (
        select(r.taxon, hour.label("hour"), func.count())
        .where(r.independent == 1)
        .group_by(r.taxon, hour)
    )
    rows = (await session.exec(query)).all()
    return [(t, int(h), int(n)) for t, h, n in rows]


async def first_seen(session: AsyncSession, project_id: uuid.UUID, s: Scope) -> dict[str, datetime]:
    dm = DetectionMinute.__table__.c  # type: ignore[attr-defined]
    query = (
        select_columns(dm.taxon, func.min(dm.first_epoch))
        .where(*_filters(project_id, s))
        .group_by(dm.taxon)
    )
    return {
        name: datetime.fromtimestamp(int(epoch), UTC)
        for name, epoch in (await session.exec(query)).all()  # type: ignore[call-overload]
    }


async def media_by_deployment(
    session: AsyncSession, project_id: uuid.UUID, s: Scope
) -> list[tuple[uuid.UUID, int, int]]:
    """As ``records.media_by_deployment``, for scopes without a taxon."""
    assert s.taxon_id is None, "the summaries count media with any animal, not one taxon's"
    mm = MediaMinute.__table__.c  # type: ignore[attr-defined]
    animal = mm.with_verified_animal if s.verified_only else mm.with_animal
    query = (
        select_columns(mm.deployment_id, func.sum(mm.media), func.sum(animal))
        .select_from(MediaMinute)
        .join(Deployment, col(Deployment.id) == mm.deployment_id)
        .where(mm.project_id == project_id, *_minute_bounds(mm.minute, s), *_sites(s))
        .group_by(mm.deployment_id)
    )
    rows: Any = (await session.exec(query)).all()  # type: ignore[call-overload]
    return [(d, int(n), int(a)) for d, n, a in rows]
