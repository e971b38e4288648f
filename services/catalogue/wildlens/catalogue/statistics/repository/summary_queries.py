"""The statistics read from what is maintained for them: the detection records, and the
per-minute media summaries for the detection rate.

The detection records (``DetectionRecord``) are the rows ``records.grouped`` makes from the
observations, for the whole project. They answer a scope exactly when the scope takes each
record whole or not at all (``answers``): a deployment or location takes a record whole; a
period does unless it cuts a record (some of its observations in, some out: the records made
from the observations in the period would then differ) or a bound falls inside a second
(records keep whole seconds); a taxon does unless the record's observations carry taxon ids
that the filter treats apart. Otherwise, and for that scope alone, the statistic is made from
the observations as before there were detection records (``records.observed_records``).

The media summaries answer exactly what ``records.media_by_deployment`` answers from the
media when the scope's time bounds fall on whole minutes (``covers``) and it names no taxon.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, not_, or_, true
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    SECONDS_PER_MINUTE,
    Deployment,
    DetectionRecord,
    MediaMinute,
    Taxon,
)
from wildlens.catalogue.statistics.params import Scope
from wildlens.catalogue.taxa.repository import descendants_cte

__all__ = ["answers", "covers", "media_by_deployment", "stored_records"]

_RECORDS = DetectionRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Subtree:
    """The scope's taxon and every taxon below it (ids and names), built once per statement:
    its conditions share one CTE."""

    ids: Any
    names: Any

    @classmethod
    def of(cls, taxon_id: uuid.UUID) -> _Subtree:
        tree = descendants_cte(taxon_id, name="scope_taxa")
        ids = select(tree.c.id)
        return cls(ids, select(col(Taxon.scientific_name)).where(col(Taxon.id).in_(ids)))

    def takes(self, r: Any) -> ColumnElement[bool]:
        """The records the filter takes, as ``queries.filters.in_taxon`` takes each of their
        observations (by taxon id where it has one, else by name), for records whose
        observations it takes all alike (``splits`` says which it does not)."""
        return or_(r.taxon_id.in_(self.ids), and_(r.taxon_id.is_(None), r.taxon.in_(self.names)))

    def splits(self, r: Any) -> ColumnElement[bool]:
        """Records of which the filter may take some observations and not others: their
        name is in the subtree (so observations without a taxon id are taken) but they also
        hold observations whose taxon id may not be (another taxon of the same name), or
        several taxon ids (only where the tree holds homonyms)."""
        all_alike = or_(
            r.taxon_ids == 0,
            and_(r.taxon_ids == 1, or_(r.unresolved == false(), r.taxon_id.in_(self.ids))),
        )
        return and_(r.taxon.in_(self.names), not_(all_alike))


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _whole_second(at: datetime | None) -> bool:
    # Records keep whole seconds: a bound inside a second cannot be compared with them.
    return at is None or at.microsecond == 0


def _scope(project_id: uuid.UUID, s: Scope) -> list[ColumnElement[bool]]:
    """The records of the scope's deployments and locations, counted as it counts them."""
    r = _RECORDS.c
    where: list[ColumnElement[bool]] = [
        r.project_id == project_id,
        r.verified == (true() if s.verified_only else false()),
    ]
    if s.deployment_ids:
        where.append(r.deployment_id.in_(s.deployment_ids))
    if s.location_ids:
        where.append(r.location_id.in_(s.location_ids))
    return where


async def answers(session: AsyncSession, project_id: uuid.UUID, s: Scope) -> bool:
    """Whether the detection records answer the scope exactly: no record of the scope is
    cut by its period or split by its taxon."""
    if not (_whole_second(s.captured_from) and _whole_second(s.captured_to)):
        return False
    bounds = [_epoch(at) for at in (s.captured_from, s.captured_to) if at is not None]
    if not bounds and s.taxon_id is None:
        return True
    r = _RECORDS.c
    subtree = _Subtree.of(s.taxon_id) if s.taxon_id is not None else None
    doubtful: list[ColumnElement[bool]] = []
    if bounds:
        # A record is cut by a bound when it has observations before it and at or after it.
        cut = or_(*(and_(r.first_epoch < bound, r.last_epoch >= bound) for bound in bounds))
        doubtful.append(cut if subtree is None else and_(subtree.takes(r), cut))
    if subtree is not None:
        doubtful.append(subtree.splits(r))
    query = select_columns(r.id).where(*_scope(project_id, s), or_(*doubtful)).limit(1)
    found: Any = (await session.exec(query)).first()  # type: ignore[call-overload]
    return found is None


def stored_records(project_id: uuid.UUID, s: Scope) -> Any:
    """The scope's records from the detection records, as the aggregates take them (where
    ``answers`` says they answer it).

    With ``previous`` too (the time of the record before it in the scope, None for the
    first) where the scope takes whole series of a location and taxon, as its period does
    when it cuts no record: then the record before one in the scope is in the scope unless it
    is before the period. A deployment (one of a location's cameras) or a taxon filter may
    take part of a series: the aggregates then find each record's previous one themselves.
    """
    r = _RECORDS.c
    where = _scope(project_id, s)
    if s.captured_from is not None:
        where.append(r.first_epoch >= _epoch(s.captured_from))
    if s.captured_to is not None:
        where.append(r.last_epoch < _epoch(s.captured_to))
    if s.taxon_id is not None:
        where.append(_Subtree.of(s.taxon_id).takes(r))
    previous: list[Any] = []
    if not s.deployment_ids and s.taxon_id is None:
        before = r.previous_epoch
        if s.captured_from is not None:
            before = case((r.previous_epoch >= _epoch(s.captured_from), r.previous_epoch))
        previous.append(before.label("previous"))
    return (
        select_columns(
            r.taxon,
            r.location_id,
            r.epoch,
            (r.epoch + r.utc_offset_s).label("local"),
            r.individuals,
            *previous,
        )
        .where(*where)
        .subquery("stored")
    )


def _on_minute(at: datetime | None) -> bool:
    return at is None or at.timestamp() % SECONDS_PER_MINUTE == 0


def covers(s: Scope) -> bool:
    """Whether the media summaries answer for this scope exactly: its bounds on whole
    minutes."""
    return _on_minute(s.captured_from) and _on_minute(s.captured_to)


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
