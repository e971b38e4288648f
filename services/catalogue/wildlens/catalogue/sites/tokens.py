"""Device tokens: listing them, revoking them, and the list of revocations still in force."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import DeviceToken
from wildlens.catalogue.sites.schemas import DeviceTokenPublic
from wildlens.common.db import utcnow
from wildlens.common.db.pagination import page_by_id
from wildlens.common.errors import NotFound
from wildlens.common.events.v1.devices_pb2 import DeviceRevoked
from wildlens.common.service import ServiceContext


def public(token: DeviceToken) -> DeviceTokenPublic:
    return DeviceTokenPublic(
        token_id=token.id,
        project_id=token.project_id,
        device_ids=[uuid.UUID(d) for d in token.device_ids],
        created_by=token.created_by,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        revoked_by=token.revoked_by,
    )


async def _page(
    session: AsyncSession, query: Any, limit: int, cursor: str | None
) -> tuple[list[DeviceToken], str | None]:
    return await page_by_id(session, query, col(DeviceToken.id), limit=limit, cursor=cursor)


async def list_tokens(
    session: AsyncSession, project_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[DeviceToken], str | None]:
    query = select(DeviceToken).where(DeviceToken.project_id == project_id)
    return await _page(session, query, limit, cursor)


async def revoke_token(
    ctx: ServiceContext,
    session: AsyncSession,
    project_id: uuid.UUID,
    token_id: uuid.UUID,
    *,
    revoked_by: str,
) -> DeviceToken:
    """Mark the token revoked and stage ``device.revoked`` in the same transaction, so that the
    ingest replicas hear of exactly the revocations that were committed. Revoking again changes
    nothing and announces nothing."""
    # Locked, so that two managers revoking at once announce it once.
    query = select(DeviceToken).where(DeviceToken.id == token_id).with_for_update()
    token = (await session.exec(query)).first()
    if token is None or token.project_id != project_id:
        raise NotFound(f"device token {token_id} not found in this project")
    if token.revoked_at is not None:
        return token
    token.revoked_at = utcnow()
    token.revoked_by = revoked_by
    session.add(token)
    await session.flush()
    await ctx.stage(
        session,
        [
            DeviceRevoked(
                token_id=str(token.id),
                project_id=str(token.project_id),
                device_ids=list(token.device_ids),
                revoked_at=_timestamp(token.revoked_at),
                expires_at=_timestamp(token.expires_at),
                revoked_by=revoked_by,
            )
        ],
    )
    return token


async def revocations_in_force(
    session: AsyncSession, limit: int, cursor: str | None
) -> tuple[list[DeviceToken], str | None]:
    """Revoked tokens that have not yet expired (expired ones are refused anyway)."""
    query = select(DeviceToken).where(
        col(DeviceToken.revoked_at).is_not(None), col(DeviceToken.expires_at) > utcnow()
    )
    return await _page(session, query, limit, cursor)


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
