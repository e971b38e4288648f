"""Queries on model uploads, beyond taking and holding one (``wildlens.common.jobs``): an
upload, and those whose staging folders are due to be swept."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.training.models import ModelUpload

__all__ = ["get", "lapsed"]


async def get(
    session: AsyncSession, upload_id: uuid.UUID, *, lock: bool = False
) -> ModelUpload | None:
    """The upload; ``lock``: held until the transaction ends (two completions take turns)."""
    return await session.get(ModelUpload, upload_id, with_for_update=lock)


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
