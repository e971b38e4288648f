"""The detection rate read from the per-minute media summaries.

It answers exactly what ``records.media_by_deployment`` answers from the media when the
scope's time bounds fall on whole minutes (``covers``) and it names no taxon.

Detections and individuals are not read from the per-minute detection summaries: a record is
a sequence's animals (event-level where present, else the most in one medium), and a
sequence may cross minutes, so per-minute sums cannot give it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as select_columns
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    SECONDS_PER_MINUTE,
    Deployment,
    MediaMinute,
)
from wildlens.catalogue.statistics.params import Scope

__all__ = ["covers", "media_by_deployment"]


def _on_minute(at: datetime | None) -> bool:
    return at is None or at.timestamp() % SECONDS_PER_MINUTE == 0


def covers(s: Scope) -> bool:
    """Whether the summaries answer for this scope exactly: its bounds on whole minutes."""
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
