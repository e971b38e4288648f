"""Service-to-service clients: the token they carry, where it comes from, when it is renewed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from wildlens.common.auth import TokenIssuer, load_keyring, verify_token
from wildlens.common.service.clients import ServiceClients, ServiceNotConfigured
from wildlens.common.settings import Settings

SECRET = "s3cret-for-tests"


class FakeCatalogue:
    """Issues short-lived service tokens for the right secret and records every call."""

    def __init__(self, settings: Settings, *, ttl_s: int = 3600) -> None:
        self.issuer = TokenIssuer(load_keyring(settings), settings.auth.issuer)
        self.ttl_s = ttl_s
        self.exchanges: list[dict[str, str]] = []
        self.calls: list[str] = []
        self.refuse_next = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/service-token":
            body = httpx.Response(200, content=request.content).json()
            self.exchanges.append(body)
            if body["secret"] != SECRET:
                return httpx.Response(401, json={"error": "Unauthorized", "detail": "wrong"})
            token = self.issuer.service_token(body["service"], ttl_s=self.ttl_s)
            expires_at = datetime.fromtimestamp(time.time() + self.ttl_s, UTC).isoformat()
            return httpx.Response(200, json={"token": token, "expires_at": expires_at})
        self.calls.append(request.headers.get("Authorization", ""))
        if self.refuse_next:
            self.refuse_next -= 1
            return httpx.Response(401, json={"error": "Unauthorized", "detail": "expired"})
        return httpx.Response(200, json={"items": [], "next_cursor": None})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        auth={"service_secret": SECRET},
        services={"catalogue_url": "http://catalogue.test"},
    )


def remote_clients(settings: Settings, catalogue: FakeCatalogue) -> Callable[[], ServiceClients]:
    def make() -> ServiceClients:
        return ServiceClients(
            "ingest",
            settings,
            issuer=None,
            local_app=lambda _name: None,
            transport=httpx.MockTransport(catalogue.handler),
        )

    return make


async def test_a_token_from_the_catalogue_is_kept_and_reused(settings: Settings) -> None:
    catalogue = FakeCatalogue(settings)
    clients = remote_clients(settings, catalogue)()
    try:
        client = clients.client("catalogue")
        assert clients.client("catalogue") is client
        for _ in range(3):
            assert (await client.get("/v1/auth/revocations")).status_code == 200
        assert catalogue.exchanges == [{"service": "ingest", "secret": SECRET}]
        assert len(set(catalogue.calls)) == 1
        principal = verify_token(
            catalogue.calls[0].removeprefix("Bearer "),
            load_keyring(settings),
            settings.auth.issuer,
        )
        assert principal.kind == "service"
        assert principal.subject == "service:ingest"
    finally:
        await clients.aclose()
    assert client.is_closed


async def test_a_token_near_its_expiry_is_replaced(settings: Settings) -> None:
    # A token handed out at the end of its life is not used for a second request.
    catalogue = FakeCatalogue(settings, ttl_s=0)
    clients = remote_clients(settings, catalogue)()
    try:
        client = clients.client("catalogue")
        await client.get("/v1/auth/revocations")
        await client.get("/v1/auth/revocations")
        assert len(catalogue.exchanges) == 2
    finally:
        await clients.aclose()


async def test_a_refused_token_is_replaced_once(settings: Settings) -> None:
    catalogue = FakeCatalogue(settings)
    clients = remote_clients(settings, catalogue)()
    try:
        client = clients.client("catalogue")
        catalogue.refuse_next = 1
        assert (await client.get("/v1/auth/revocations")).status_code == 200
        assert len(catalogue.exchanges) == 2
        # Refused again after the new token: the 401 is the answer, no loop.
        catalogue.refuse_next = 5
        assert (await client.get("/v1/auth/revocations")).status_code == 401
        assert len(catalogue.exchanges) == 3
    finally:
        await clients.aclose()


async def test_a_process_with_the_key_signs_its_own_tokens(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, services={"catalogue_url": "http://catalogue.test"})
    keys = load_keyring(settings)
    catalogue = FakeCatalogue(settings)
    clients = ServiceClients(
        "inference",
        settings,
        issuer=TokenIssuer(keys, settings.auth.issuer),
        local_app=lambda _name: None,
        transport=httpx.MockTransport(catalogue.handler),
    )
    try:
        await clients.client("catalogue").get("/v1/auth/revocations")
    finally:
        await clients.aclose()
    assert catalogue.exchanges == []
    token = catalogue.calls[0].removeprefix("Bearer ")
    assert verify_token(token, keys, settings.auth.issuer).subject == "service:inference"


async def test_what_cannot_work_is_said_plainly(settings: Settings, tmp_path: Path) -> None:
    no_secret = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"service_secret": None})}
    )
    clients = ServiceClients("ingest", no_secret, issuer=None, local_app=lambda _name: None)
    with pytest.raises(ServiceNotConfigured, match="WILDLENS_AUTH__SERVICE_SECRET"):
        clients.client("catalogue")
    clients = ServiceClients("ingest", settings, issuer=None, local_app=lambda _name: None)
    with pytest.raises(ServiceNotConfigured, match="WILDLENS_SERVICES__TRAINING_URL"):
        clients.client("training")
    await clients.aclose()

    wrong = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"service_secret": SecretStr("no")})}
    )
    catalogue = FakeCatalogue(settings)
    clients = remote_clients(wrong, catalogue)()
    try:
        with pytest.raises(Exception, match=r"refused a service token \(401\)"):
            await clients.client("catalogue").get("/v1/auth/revocations")
        # Nothing went out without a token.
        assert catalogue.calls == []
    finally:
        await clients.aclose()
