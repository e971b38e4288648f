"""Token exchange: an identity provider's JWT in, a Wildlens token carrying the user's
memberships out."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.auth.repository import memberships_of
from wildlens.common.auth import ExternalVerifier, TokenIssuer
from wildlens.common.errors import Unauthorized, Unavailable
from wildlens.common.settings import Settings

__all__ = ["exchange", "membership_token"]


async def exchange(
    settings: Settings,
    issuer: TokenIssuer | None,
    verifier: ExternalVerifier,
    session: AsyncSession,
    subject_token: str,
) -> str:
    """A Wildlens user token for the holder of ``subject_token`` (``verifier``: the process's
    one, which keeps the providers' keys between requests)."""
    if issuer is None:
        raise Unavailable("this catalogue instance has no signing key configured")
    if not settings.auth.external_issuers:
        raise Unauthorized("no external identity provider is configured for token exchange")
    identity = await verifier.verify(subject_token)
    return await membership_token(settings, issuer, session, identity.subject)


async def membership_token(
    settings: Settings,
    issuer: TokenIssuer | None,
    session: AsyncSession,
    subject: str,
    *,
    ttl_s: int | None = None,
) -> str:
    """A user token for ``subject`` carrying its memberships as they are now (what the
    exchange answers, and what joining a project answers so that other services see the new
    role at once); ``ttl_s``: its lifetime, the configured one by default."""
    if issuer is None:
        raise Unavailable("this catalogue instance has no signing key configured")
    rows = await memberships_of(session, subject)
    roles = {str(m.project_id): m.role for m in rows}
    permissions = {str(m.project_id): sorted(m.permissions) for m in rows if m.permissions}
    return issuer.user_token(
        subject,
        roles,
        permissions=permissions,
        ttl_s=settings.auth.token_ttl_s if ttl_s is None else ttl_s,
        from_memberships=True,
    )
