"""Token exchange: an identity provider's JWT in, a Wildlens token carrying the user's
memberships out."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.auth.repository import memberships_of
from wildlens.common.auth import ExternalVerifier
from wildlens.common.errors import Unauthorized, Unavailable
from wildlens.common.service import ServiceContext

_VERIFIER = "external_verifier"


def external_verifier(ctx: ServiceContext) -> ExternalVerifier:
    """The process's verifier, made on first use; it keeps the providers' keys between
    requests."""
    verifier = ctx.state.get(_VERIFIER)
    if verifier is None:
        verifier = ctx.state[_VERIFIER] = ExternalVerifier(ctx.settings.auth)
    assert isinstance(verifier, ExternalVerifier)
    return verifier


async def exchange(ctx: ServiceContext, session: AsyncSession, subject_token: str) -> str:
    """A Wildlens user token for the holder of ``subject_token``."""
    if ctx.issuer is None:
        raise Unavailable("this catalogue instance has no signing key configured")
    if not ctx.settings.auth.external_issuers:
        raise Unauthorized("no external identity provider is configured for token exchange")
    identity = await external_verifier(ctx).verify(subject_token)
    rows = await memberships_of(session, identity.subject)
    roles = {str(m.project_id): m.role for m in rows}
    permissions = {str(m.project_id): sorted(m.permissions) for m in rows if m.permissions}
    return ctx.issuer.user_token(
        identity.subject,
        roles,
        permissions=permissions,
        ttl_s=ctx.settings.auth.token_ttl_s,
        from_memberships=True,
    )
