"""The media and observation queries, one keyset page at a time, in capture order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.media.models import Media, Observation
from wildlens.catalogue.queries.filters import (
    Filters,
    media_conditions,
    observation_conditions,
)
from wildlens.catalogue.queries.keyset import SortKey, page_by_keys, parse_datetime, parse_uuid
from wildlens.catalogue.sites.models import Deployment

__all__ = ["find_media", "find_observations"]


async def find_media(
    session: AsyncSession,
    project_id: uuid.UUID,
    f: Filters,
    *,
    limit: int,
    cursor: str | None,
    visible: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[tuple[Media, uuid.UUID | None]], str | None]:
    """(media, its location id) in capture order (unknown times last), then by id."""
    query = (
        select(Media, Deployment.location_id)
        .join(Deployment, col(Media.deployment_id) == col(Deployment.id), isouter=True)
        .where(Media.project_id == project_id, *media_conditions(f), *visible)
    )
    if f.on_observations:
        # Media with at least one observation meeting every observation filter at once.
        matching = select(Observation.media_id).where(
            Observation.project_id == project_id, *observation_conditions(f)
        )
        query = query.where(col(Media.id).in_(matching))
    rows, next_cursor = await page_by_keys(
        session,
        query,
        [
            SortKey(col(Media.captured_at), parse_datetime, nullable=True),
            SortKey(col(Media.id), parse_uuid),
        ],
        lambda row: [row[0].captured_at, row[0].id],
        limit=limit,
        cursor=cursor,
    )
    return [(m, location_id) for m, location_id in rows], next_cursor


async def find_observations(
    session: AsyncSession,
    project_id: uuid.UUID,
    f: Filters,
    *,
    limit: int,
    cursor: str | None,
    visible: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[tuple[Observation, Any, Any, Any]], str | None]:
    """(observation, capture time, deployment id, location id) in the capture order of their
    media, then by id; ``visible`` are the caller's privacy conditions on ``Media``."""
    query = (
        select(Observation, Media.captured_at, Media.deployment_id, Deployment.location_id)
        .join(Media, col(Observation.media_id) == col(Media.id), isouter=True)
        .join(Deployment, col(Media.deployment_id) == col(Deployment.id), isouter=True)
        .where(
            Observation.project_id == project_id,
            *observation_conditions(f),
            *media_conditions(f),
            *visible,
        )
    )
    rows, next_cursor = await page_by_keys(
        session,
        query,
        [
            SortKey(col(Media.captured_at), parse_datetime, nullable=True),
            SortKey(col(Observation.id), parse_uuid),
        ],
        lambda row: [row[1], row[0].id],
        limit=limit,
        cursor=cursor,
    )
    return [(o, captured_at, d, loc) for o, captured_at, d, loc in rows], next_cursor
