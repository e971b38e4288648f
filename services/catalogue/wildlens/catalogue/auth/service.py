"""Service tokens for the platform's shared secret, and the revocation list."""

from __future__ import annotations

import hmac
from datetime import timedelta

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.auth import repository
from wildlens.catalogue.auth.schemas import ServiceTokenIssued, ServiceTokenRequest
from wildlens.catalogue.models import DeviceToken
from wildlens.common.auth import TokenIssuer
from wildlens.common.db import utcnow
from wildlens.common.errors import Unauthorized, Unavailable
from wildlens.common.http.pagination import PageParams
from wildlens.common.settings import Settings

__all__ = ["WRONG_SECRET", "issue_service_token", "revocations"]

log = structlog.get_logger(__name__)

WRONG_SECRET = "wrong service secret"


def issue_service_token(
    settings: Settings, issuer: TokenIssuer | None, body: ServiceTokenRequest
) -> ServiceTokenIssued:
    """A service token, if ``body`` carries the configured service secret."""
    configured = settings.auth.service_secret
    if configured is None or not configured.get_secret_value():
        # Without a secret anyone could mint platform-wide tokens, so every secret is wrong;
        # the caller is told no more than for a wrong one (the operator reads it in the log).
        log.warning("auth.service_secret_missing", service=body.service)
        raise Unauthorized(WRONG_SECRET)
    if issuer is None:
        raise Unavailable("this catalogue instance has no signing key configured")
    # Compared in constant time, so that response timing reveals nothing of the secret.
    if not hmac.compare_digest(
        body.secret.get_secret_value().encode(), configured.get_secret_value().encode()
    ):
        raise Unauthorized(WRONG_SECRET)
    ttl_s = settings.auth.token_ttl_s
    expires_at = utcnow() + timedelta(seconds=ttl_s)
    token = issuer.service_token(body.service, ttl_s=ttl_s)
    return ServiceTokenIssued(token=token, expires_at=expires_at)


async def revocations(
    session: AsyncSession, page: PageParams
) -> tuple[list[DeviceToken], str | None]:
    """A page of the device tokens revoked and not yet expired."""
    return await repository.revocations_in_force(session, page)
