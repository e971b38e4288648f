"""HTTP clients one service calls the others with, authenticated by a service token.

Where the target runs in the same process (embedded mode, or ``wildlens up``) the client
calls its app directly, with no socket; elsewhere it calls ``WILDLENS_SERVICES__<NAME>_URL``.
The token is signed in-process where the process holds the platform's private key, and
otherwise obtained from the catalogue in exchange for the shared service secret::

    ServiceTokens
    ├── SignedServiceTokens      the process can sign (the catalogue, embedded mode)
    └── ExchangedServiceTokens   POST /v1/auth/service-token with WILDLENS_AUTH__SERVICE_SECRET

Both cache their token and replace it before it expires, and once more on a 401.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from typing import Any

import httpx

from wildlens.common.auth import TokenIssuer
from wildlens.common.errors import Unavailable
from wildlens.common.settings import Settings

__all__ = [
    "ExchangedServiceTokens",
    "ServiceClients",
    "ServiceNotConfigured",
    "ServiceTokens",
    "SignedServiceTokens",
]

# A token is replaced once less than this share of its lifetime is left, so that a request
# never leaves with a token that expires on the way.
REFRESH_SHARE = 0.2
TIMEOUT = httpx.Timeout(10.0)

LocalApp = Callable[[str], Any]


class ServiceNotConfigured(Unavailable):
    """Calling the service cannot work as configured: it runs neither in this process nor at a
    configured URL, or this process has no way to obtain a service token. Retrying is futile."""


class ServiceTokens(ABC):
    """Service tokens for one calling service, cached until shortly before they expire."""

    def __init__(self) -> None:
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self, *, refresh: bool = False) -> str:
        """A valid token; a new one when ``refresh`` (the last one was refused)."""
        async with self._lock:
            if refresh or self._token is None or time.time() >= self._refresh_at:
                token, expires_at = await self._obtain()
                lifetime = max(0.0, expires_at - time.time())
                self._token, self._refresh_at = token, expires_at - lifetime * REFRESH_SHARE
            return self._token

    @abstractmethod
    async def _obtain(self) -> tuple[str, float]:
        """A new token and when it expires (seconds since the epoch)."""

    async def aclose(self) -> None:  # noqa: B027  (nothing to release by default)
        """Release what obtaining tokens holds."""


class SignedServiceTokens(ServiceTokens):
    """Args:
    issuer: signs with this process's private key.
    service: the calling service, the token's subject.
    ttl_s: lifetime of each token.
    """

    def __init__(self, issuer: TokenIssuer, service: str, *, ttl_s: int) -> None:
        super().__init__()
        self._issuer, self._service, self._ttl_s = issuer, service, ttl_s

    async def _obtain(self) -> tuple[str, float]:
        expires_at = time.time() + self._ttl_s
        return self._issuer.service_token(self._service, ttl_s=self._ttl_s), expires_at


class ExchangedServiceTokens(ServiceTokens):
    """Args:
    catalogue: a client whose base URL is the catalogue (unauthenticated).
    service: the calling service.
    secret: the platform's shared service secret.
    """

    def __init__(self, catalogue: httpx.AsyncClient, service: str, secret: str) -> None:
        super().__init__()
        self._catalogue, self._service, self._secret = catalogue, service, secret

    async def _obtain(self) -> tuple[str, float]:
        try:
            response = await self._catalogue.post(
                "/v1/auth/service-token", json={"service": self._service, "secret": self._secret}
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"the catalogue does not answer for a service token: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(
                f"the catalogue refused a service token ({response.status_code}): "
                f"{response.text[:300]}"
            )
        body = response.json()
        expires_at = datetime.fromisoformat(str(body["expires_at"])).timestamp()
        return str(body["token"]), expires_at

    async def aclose(self) -> None:
        await self._catalogue.aclose()


class _ServiceAuth(httpx.Auth):
    """Bearer service token on every request; one retry with a new token after a 401 (the
    catalogue's key or the token's lifetime may have changed under us)."""

    def __init__(self, tokens: ServiceTokens) -> None:
        self._tokens = tokens

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self._tokens.token()}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            request.headers["Authorization"] = f"Bearer {await self._tokens.token(refresh=True)}"
            yield request


class ServiceClients:
    """One authenticated client per target service, for one calling service.

    Args:
        caller: the calling service; its name is the tokens' subject.
        settings: service URLs, the service secret and the token lifetime.
        issuer: signs tokens in-process when the process holds the private key.
        local_app: the running ASGI app serving a service in this process, or ``None``.
        transport: for calls that leave the process; tests pass a mock transport.
    """

    def __init__(
        self,
        caller: str,
        settings: Settings,
        *,
        issuer: TokenIssuer | None,
        local_app: LocalApp,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._caller = caller
        self._settings = settings
        self._issuer = issuer
        self._local_app = local_app
        self._transport = transport
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._tokens: ServiceTokens | None = None

    def client(self, service: str) -> httpx.AsyncClient:
        """The client for ``service``, made on first use and kept until :meth:`aclose`."""
        client = self._clients.get(service)
        if client is None or client.is_closed:
            tokens = self._token_source()
            client = self._plain_client(service)
            client.auth = _ServiceAuth(tokens)
            self._clients[service] = client
        return client

    def _plain_client(self, service: str) -> httpx.AsyncClient:
        app = self._local_app(service)
        if app is not None:
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url=f"http://{service}.in-process",
                timeout=TIMEOUT,
            )
        url: str | None = getattr(self._settings.services, f"{service}_url", None)
        if not url:
            raise ServiceNotConfigured(
                f"service {service} does not run in this process and has no address: "
                f"set WILDLENS_SERVICES__{service.upper()}_URL"
            )
        return httpx.AsyncClient(base_url=url, transport=self._transport, timeout=TIMEOUT)

    def _token_source(self) -> ServiceTokens:
        if self._tokens is None:
            ttl_s = self._settings.auth.token_ttl_s
            if self._issuer is not None:
                self._tokens = SignedServiceTokens(self._issuer, self._caller, ttl_s=ttl_s)
            else:
                secret = self._settings.auth.service_secret
                if secret is None:
                    raise ServiceNotConfigured(
                        f"{self._caller} cannot obtain service tokens: it holds no signing key "
                        "and WILDLENS_AUTH__SERVICE_SECRET is not set"
                    )
                self._tokens = ExchangedServiceTokens(
                    self._plain_client("catalogue"), self._caller, secret.get_secret_value()
                )
        return self._tokens

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
        if self._tokens is not None:
            await self._tokens.aclose()
            self._tokens = None
