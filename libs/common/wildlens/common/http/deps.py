"""FastAPI dependencies: the caller, a service's context, and a transaction per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal, RevocationList, verify_token
from wildlens.common.errors import Unauthorized
from wildlens.common.service.context import ServiceContext

__all__ = ["PrincipalDep", "context_dependency", "get_principal", "session_dependency"]

_bearer = HTTPBearer(auto_error=False, description="A Wildlens token (user, device or service)")


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    platform = request.app.state.platform
    principal = verify_token(credentials.credentials, platform.keys, platform.settings.auth.issuer)
    # Filled by the consumers of ``device.revoked`` and the start-up load of the current list.
    revoked: RevocationList = request.app.state.revoked_tokens
    if principal.token_id is not None and principal.token_id in revoked:
        raise Unauthorized("token has been revoked")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def context_dependency(service: str) -> Callable[[Request], ServiceContext]:
    """A dependency returning ``service``'s context from the running app."""

    def _context(request: Request) -> ServiceContext:
        ctx: ServiceContext = request.app.state.platform.contexts[service]
        return ctx

    return _context


def session_dependency(service: str) -> Callable[..., Any]:
    """A dependency yielding a session in one transaction: committed when the route returns,
    rolled back when it raises, always before the response is sent."""

    async def _session(request: Request) -> AsyncIterator[AsyncSession]:
        ctx: ServiceContext = request.app.state.platform.contexts[service]
        if ctx.db is None:
            raise RuntimeError(f"service {service} has no database")
        async with ctx.db.transaction() as session:
            yield session

    return _session
