"""FastAPI dependencies: the caller, a transaction per request, and each piece of a service's
running context on its own, so that a route names exactly what it uses.

The accessors are coroutines although they never wait: FastAPI runs a plain function
dependency in a worker thread, a hand-off per dependency per request for a lookup.

A service declares its aliases once from these factories, for example::

    SessionDep = Annotated[AsyncSession, Depends(session_dependency("catalogue"), scope="function")]
    StoreDep = Annotated[ObjectStore, Depends(store_dependency("catalogue"))]
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal, RevocationList, TokenIssuer, VerifiedTokens
from wildlens.common.db import Database
from wildlens.common.errors import Unauthorized
from wildlens.common.service.clients import ServiceClients
from wildlens.common.service.context import ServiceContext
from wildlens.common.service.service_bus import ServiceBus
from wildlens.common.settings import Settings
from wildlens.common.storage import ObjectStore

__all__ = [
    "PrincipalDep",
    "bearer_scheme",
    "bus_dependency",
    "clients_dependency",
    "database_dependency",
    "get_principal",
    "issuer_dependency",
    "runtime_dependency",
    "runtime_part_dependency",
    "session_dependency",
    "settings_dependency",
    "store_dependency",
]

R = TypeVar("R")

bearer_scheme = HTTPBearer(
    auto_error=False, description="A Wildlens token (user, device or service)"
)


# Per process: every request of a caller that keeps its token checks one signature, not one each.
_verified_tokens = VerifiedTokens()


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    platform = request.app.state.platform
    principal = _verified_tokens.verify(
        credentials.credentials, platform.keys, platform.settings.auth.issuer
    )
    # Filled by the consumers of ``device.revoked`` and the start-up load of the current list.
    revoked: RevocationList = request.app.state.revoked_tokens
    if principal.token_id is not None and principal.token_id in revoked:
        raise Unauthorized("token has been revoked")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _context(request: Request, service: str) -> ServiceContext:
    ctx: ServiceContext = request.app.state.platform.contexts[service]
    return ctx


def session_dependency(service: str) -> Callable[..., Any]:
    """A dependency yielding a session in one transaction: committed when the route returns,
    rolled back when it raises, always before the response is sent."""

    async def _session(request: Request) -> AsyncIterator[AsyncSession]:
        async with _context(request, service).database.transaction() as session:
            yield session

    return _session


def database_dependency(service: str) -> Callable[[Request], Awaitable[Database]]:
    """``service``'s database, for a route that runs a transaction of its own beside the
    request's."""

    async def _database(request: Request) -> Database:
        return _context(request, service).database

    return _database


def store_dependency(service: str) -> Callable[[Request], Awaitable[ObjectStore]]:
    """The object store, as ``service`` uses it."""

    async def _store(request: Request) -> ObjectStore:
        return _context(request, service).store

    return _store


def bus_dependency(service: str) -> Callable[[Request], Awaitable[ServiceBus]]:
    """The bus as ``service`` sends on it (its outbox, where it has one)."""

    async def _bus(request: Request) -> ServiceBus:
        return _context(request, service).service_bus

    return _bus


def settings_dependency(service: str) -> Callable[[Request], Awaitable[Settings]]:
    """The settings ``service`` runs with."""

    async def _settings(request: Request) -> Settings:
        return _context(request, service).settings

    return _settings


def clients_dependency(service: str) -> Callable[[Request], Awaitable[ServiceClients]]:
    """``service``'s clients of the other services' APIs, authenticated as ``service``."""

    async def _clients(request: Request) -> ServiceClients:
        return _context(request, service).service_clients

    return _clients


def issuer_dependency(service: str) -> Callable[[Request], Awaitable[TokenIssuer | None]]:
    """The token issuer, ``None`` in a process that holds no signing key."""

    async def _issuer(request: Request) -> TokenIssuer | None:
        return _context(request, service).issuer

    return _issuer


def runtime_dependency(service: str, kind: type[R]) -> Callable[[Request], Awaitable[R]]:
    """``service``'s runtime (the dataclass its start hook builds); 503 while it is not
    running."""

    async def _runtime(request: Request) -> R:
        return _context(request, service).runtime_as(kind)

    return _runtime


def runtime_part_dependency(service: str, kind: type[R]) -> Callable[[Request], Awaitable[R]]:
    """The one member of ``service``'s runtime that is a ``kind``, for routes in a layer below
    the runtime's module; 503 while the service is not running."""

    async def _part(request: Request) -> R:
        return _context(request, service).runtime_part(kind)

    return _part
