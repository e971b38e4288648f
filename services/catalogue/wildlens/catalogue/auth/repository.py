"""What the token issuer reads: a user's memberships, and the device tokens revoked."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import DeviceToken, Membership
from wildlens.common.db import utcnow
from wildlens.common.db.pagination import page_by_id
from wildlens.common.http.pagination import PageParams

__all__ = ["memberships_of", "revocations_in_force"]


async def memberships_of(session: AsyncSession, subject: str) -> list[Membership]:
    query = select(Membership).where(Membership.subject == subject)
    return list((await session.exec(query)).all())


async def revocations_in_force(
    session: AsyncSession, page: PageParams
) -> tuple[list[DeviceToken], str | None]:
    """Revoked tokens that have not yet expired (expired ones are refused anyway)."""
    query = select(DeviceToken).where(
        col(DeviceToken.revoked_at).is_not(None), col(DeviceToken.expires_at) > utcnow()
    )
    return await page_by_id(session, query, col(DeviceToken.id), page)
