"""Queries on model uploads: the row is the queue, taken and held by conditional updates so
that exactly one training process works on an upload at a time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.engine import CursorResult
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.training.models import ModelUpload

__all__ = ["claimable", "get", "hand_back", "lapsed", "take", "update_held"]


def _rows(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Queued, or held by a process whose lease has lapsed."""
    return or_(
        col(ModelUpload.status) == "queued",
        and_(col(ModelUpload.status) == "running", col(ModelUpload.lease_expires_at) < now),
    )


async def get(
    session: AsyncSession, upload_id: uuid.UUID, *, lock: bool = False
) -> ModelUpload | None:
    """The upload; ``lock``: held until the transaction ends (two completions take turns)."""
    return await session.get(ModelUpload, upload_id, with_for_update=lock)


async def claimable(
    session: AsyncSession, now: datetime, *, limit: int
) -> list[tuple[uuid.UUID, int]]:
    """(id, attempts) of the oldest uploads a process may take."""
    query = (
        select(ModelUpload.id, ModelUpload.attempts)
        .where(_claimable(now))
        .order_by(col(ModelUpload.created_at))
        .limit(limit)
    )
    return [(upload_id, attempts) for upload_id, attempts in await session.exec(query)]


async def take(
    session: AsyncSession, upload_id: uuid.UUID, now: datetime, owner: str, lease_until: datetime
) -> bool:
    """Whether ``owner`` got the upload: whoever updates the row first gets it."""
    taken = await session.exec(
        update(ModelUpload)
        .where(col(ModelUpload.id) == upload_id, _claimable(now))
        .values(
            status="running",
            attempts=col(ModelUpload.attempts) + 1,
            lease_owner=owner,
            lease_expires_at=lease_until,
        )
    )
    return _rows(taken) == 1


async def update_held(
    session: AsyncSession, upload_id: uuid.UUID, owner: str, **values: object
) -> bool:
    """Change the upload if ``owner`` still holds it; whether it did."""
    changed = await session.exec(
        update(ModelUpload)
        .where(
            col(ModelUpload.id) == upload_id,
            col(ModelUpload.status) == "running",
            col(ModelUpload.lease_owner) == owner,
        )
        .values(**values)
    )
    return _rows(changed) == 1


async def hand_back(session: AsyncSession, owner: str) -> None:
    """Put the uploads ``owner`` is working on back in the queue."""
    await session.exec(
        update(ModelUpload)
        .where(col(ModelUpload.status) == "running", col(ModelUpload.lease_owner) == owner)
        .values(status="queued", lease_owner="", lease_expires_at=None)
    )


async def lapsed(session: AsyncSession, before: datetime, *, limit: int) -> list[ModelUpload]:
    """Uploads not swept yet, not being worked on, whose URLs stopped working before
    ``before``."""
    query = (
        select(ModelUpload)
        .where(
            col(ModelUpload.swept).is_(False),
            col(ModelUpload.status).not_in(["queued", "running"]),
            col(ModelUpload.expires_at) < before,
        )
        .order_by(col(ModelUpload.expires_at))
        .limit(limit)
    )
    return list((await session.exec(query)).all())
