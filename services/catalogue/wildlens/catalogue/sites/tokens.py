"""Device tokens: issuing one for a gateway's cameras, listing them, and revoking one."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Device, DeviceToken
from wildlens.catalogue.sites import repository
from wildlens.catalogue.sites.schemas import DeviceTokenCreate, DeviceTokenIssued
from wildlens.catalogue.sites.service import owned
from wildlens.common.auth import TokenIssuer
from wildlens.common.db import utcnow
from wildlens.common.errors import NotFound, Unavailable
from wildlens.common.events.v1.devices_pb2 import DeviceRevoked
from wildlens.common.http.pagination import PageParams
from wildlens.common.service import ServiceBus

__all__ = ["issue_token", "list_tokens", "revoke_token"]


async def issue_token(
    issuer: TokenIssuer | None,
    session: AsyncSession,
    project_id: uuid.UUID,
    device_id: uuid.UUID,
    body: DeviceTokenCreate,
    *,
    created_by: str,
) -> DeviceTokenIssued:
    """A token for ``device_id`` and ``body.also_devices``, recorded so that it can be listed
    and revoked (the token itself is not kept: only its creator ever sees it)."""
    device_ids = [device_id, *[d for d in body.also_devices if d != device_id]]
    for d in device_ids:
        await owned(session, Device, d, project_id, "device")
    if issuer is None:
        raise Unavailable("this catalogue instance has no signing key configured")
    ttl = timedelta(days=body.ttl_days)
    token, token_id = issuer.device_token(
        str(project_id),
        [str(d) for d in device_ids],
        subject=f"gateway:{device_id}",
        ttl_s=int(ttl.total_seconds()),
    )
    record = DeviceToken(
        id=uuid.UUID(token_id),
        project_id=project_id,
        device_ids=[str(d) for d in device_ids],
        created_by=created_by,
        expires_at=utcnow() + ttl,
    )
    session.add(record)
    await session.flush()
    return DeviceTokenIssued(
        token=token,
        token_id=record.id,
        project_id=project_id,
        device_ids=device_ids,
        expires_at=record.expires_at,
    )


async def list_tokens(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[DeviceToken], str | None]:
    return await repository.tokens_page(session, project_id, page)


async def revoke_token(
    bus: ServiceBus,
    session: AsyncSession,
    project_id: uuid.UUID,
    token_id: uuid.UUID,
    *,
    revoked_by: str,
) -> DeviceToken:
    """Mark the token revoked and stage ``device.revoked`` in the same transaction, so that the
    ingest replicas hear of exactly the revocations that were committed. Revoking again changes
    nothing and announces nothing."""
    token = await repository.token_for_update(session, token_id)
    if token is None or token.project_id != project_id:
        raise NotFound(f"device token {token_id} not found in this project")
    if token.revoked_at is not None:
        return token
    token.revoked_at = utcnow()
    token.revoked_by = revoked_by
    session.add(token)
    await session.flush()
    await bus.stage(
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


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
