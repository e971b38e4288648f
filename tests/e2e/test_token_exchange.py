"""Token exchange: an identity provider's JWT, verified against its JWKS (served here by a
local HTTP server), becomes a Wildlens token carrying the user's memberships."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.conftest import free_port
from tests.support.api import bearer, ok
from tests.support.platform import RunningPlatform, SettingsFactory, running
from wildlens.common.auth import load_keyring, verify_token
from wildlens.common.auth.external import JwksCache
from wildlens.common.errors import Unauthorized
from wildlens.common.settings import Settings

ISSUER = "https://idp.example.org/realms/field"
AUDIENCE = "wildlens"
LOCATION = {"name": "Pond", "latitude": 50.7, "longitude": 4.0}

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class IdentityProvider:
    """A stand-in for an OpenID provider: publishes a JWKS over HTTP and signs tokens."""

    url: str
    keys: dict[str, Key] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def add_key(self, kid: str, kind: str = "RS256", *, publish: bool = True) -> None:
        self.keys[kid] = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kind.startswith("RS")
            else ec.generate_private_key(ec.SECP256R1())
        )
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published:
            key = self.keys[kid]
            if isinstance(key, rsa.RSAPrivateKey):
                jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk["alg"] = "RS256"
            else:
                jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk["alg"] = "ES256"
            keys.append({**jwk, "kid": kid, "use": "sig"})
        # Providers publish other keys too; they must be skipped, not break the set.
        keys.append({"kty": "RSA", "use": "enc", "kid": "encryption", "n": "AQAB", "e": "AQAB"})
        return {"keys": keys}

    def token(
        self,
        sub: str = "alice",
        *,
        kid: str = "k1",
        alg: str | None = None,
        signing_key: Any = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300}
        body.update(claims)
        key = signing_key if signing_key is not None else self.keys[kid]
        algorithm = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    port = free_port()
    provider = IdentityProvider(f"http://127.0.0.1:{port}")
    provider.add_key("k1")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.requests += 1
            if self.path != "/jwks":
                self.send_error(404)
                return
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _trusting(settings: Settings, jwks_url: str, **auth: Any) -> Settings:
    issuer = {"issuer": ISSUER, "jwks_url": jwks_url, "audience": AUDIENCE, "name": "field"}
    updated = settings.auth.model_validate(
        {**settings.auth.model_dump(), "external_issuers": [issuer], **auth}
    )
    return settings.model_copy(update={"auth": updated})


@pytest.fixture
def settings(settings_for: SettingsFactory, idp: IdentityProvider) -> Settings:
    """The platform trusts the test's identity provider."""
    return _trusting(settings_for(), idp.jwks_url)


# The token exchange is the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")


async def _exchange(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/v1/auth/token", json={"subject_token": token})


async def _put(
    client: httpx.AsyncClient,
    token: str,
    pid: str,
    subject: str,
    role: str,
    perms: list[str],
    status: int = 201,
) -> None:
    await ok(
        await client.put(
            f"/v1/projects/{pid}/members/{subject}",
            json={"role": role, "permissions": perms},
            headers=bearer(token),
        ),
        status,
    )


async def test_exchanged_token_carries_memberships(
    wl: RunningPlatform, settings: Settings, admin: str, idp: IdentityProvider
) -> None:
    first = await ok(
        await wl.client.post("/v1/projects", json={"name": "a"}, headers=bearer(admin)), 201
    )
    second = await ok(
        await wl.client.post("/v1/projects", json={"name": "b"}, headers=bearer(admin)), 201
    )
    a, b = first["id"], second["id"]
    keys = load_keyring(settings)

    # Known to the provider but to no project yet: a token with no roles.
    issued = await ok(await _exchange(wl.client, idp.token("alice")), 200)
    assert issued["token_type"] == "Bearer"
    assert issued["expires_in"] == settings.auth.token_ttl_s
    nobody = verify_token(issued["access_token"], keys, settings.auth.issuer)
    assert nobody.subject == "field:alice"
    assert nobody.roles == {}
    assert (
        await wl.client.get(f"/v1/projects/{a}", headers=bearer(issued["access_token"]))
    ).status_code == 404

    await _put(wl.client, admin, a, "field:alice", "viewer", [])
    await _put(wl.client, admin, a, "field:alice", "annotator", ["precise_locations"], 200)
    await _put(wl.client, admin, b, "field:alice", "viewer", [])
    issued = await ok(await _exchange(wl.client, idp.token("alice")), 200)
    token = issued["access_token"]
    alice = verify_token(token, keys, settings.auth.issuer)
    assert alice.subject == "field:alice"
    assert alice.kind == "user"
    assert alice.roles == {a: "annotator", b: "viewer"}
    assert alice.has_permission(a, "precise_locations")
    assert not alice.has_permission(b, "precise_locations")
    assert alice.roles_from_memberships
    # The token works against the catalogue, with its role's limits.
    await ok(await wl.client.get(f"/v1/projects/{a}", headers=bearer(token)), 200)
    refused = await wl.client.post(
        f"/v1/projects/{a}/locations", json=LOCATION, headers=bearer(token)
    )
    assert refused.status_code == 403, refused.text

    # Removed: the catalogue refuses the old token at once; a fresh one has no role there.
    removed = await wl.client.delete(f"/v1/projects/{a}/members/field:alice", headers=bearer(admin))
    assert removed.status_code == 204, removed.text
    assert (await wl.client.get(f"/v1/projects/{a}", headers=bearer(token))).status_code == 404
    await ok(await wl.client.get(f"/v1/projects/{b}", headers=bearer(token)), 200)
    listed = await ok(await wl.client.get("/v1/projects", headers=bearer(token)), 200)
    assert [p["id"] for p in listed["items"]] == [b]
    fresh = await ok(await _exchange(wl.client, idp.token("alice")), 200)
    after = verify_token(fresh["access_token"], keys, settings.auth.issuer)
    assert after.roles == {b: "viewer"}
    assert not after.has_permission(a, "precise_locations")

    # Another user of the same provider is another subject.
    bob = await ok(await _exchange(wl.client, idp.token("bob")), 200)
    assert verify_token(bob["access_token"], keys, settings.auth.issuer).roles == {}


async def test_ec_keys_and_a_configured_subject_claim(
    settings_for: SettingsFactory, idp: IdentityProvider
) -> None:
    idp.add_key("ec1", "ES256")
    settings = _trusting(settings_for(), idp.jwks_url)
    issuers = [
        i.model_copy(update={"subject_claim": "oid"}) for i in settings.auth.external_issuers
    ]
    settings = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"external_issuers": issuers})}
    )
    async with running(settings, ["catalogue"]) as wl:
        token = idp.token("ignored", kid="ec1", oid="0f7c-42")
        issued = await ok(await _exchange(wl.client, token), 200)
        principal = verify_token(
            issued["access_token"], load_keyring(settings), settings.auth.issuer
        )
        assert principal.subject == "field:0f7c-42"
        missing = await _exchange(wl.client, idp.token("alice", kid="ec1"))
        assert missing.status_code == 401
        assert "'oid'" in missing.json()["detail"]


async def test_bad_tokens_are_refused_with_the_reason(
    wl: RunningPlatform, idp: IdentityProvider
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "issuer 'https://elsewhere.example' is not trusted": idp.token(
            iss="https://elsewhere.example"
        ),
        "audience": idp.token(aud="someone-else"),
        "signature verification failed": idp.token(signing_key=stranger),
        "token has expired": idp.token(exp=int(time.time()) - 600),
        "algorithm 'HS256' is not accepted": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
            "a-secret-long-enough-for-hmac-sha256-keys!",
            algorithm="HS256",
            headers={"kid": "k1"},
        ),
        "not for algorithm ES256": idp.token(
            signing_key=ec.generate_private_key(ec.SECP256R1()), alg="ES256"
        ),
        "invalid token": "not.a.jwt",
        'missing the "aud" claim': jwt.encode(
            {"iss": ISSUER, "sub": "x", "exp": int(time.time()) + 60},
            idp.keys["k1"],
            algorithm="RS256",
            headers={"kid": "k1"},
        ),
    }
    for reason, token in cases.items():
        response = await _exchange(wl.client, token)
        assert response.status_code == 401, (reason, response.text)
        assert response.json()["error"] == "Unauthorized"
        assert reason in response.json()["detail"], (reason, response.text)
    empty = await wl.client.post("/v1/auth/token", json={})
    assert empty.status_code == 422


async def test_keys_are_cached_and_unknown_key_ids_refused(
    wl: RunningPlatform, idp: IdentityProvider
) -> None:
    for _ in range(3):
        await ok(await _exchange(wl.client, idp.token("alice")), 200)
    assert idp.requests == 1

    # A made-up key id within the minimum refetch interval: refused, and nothing fetched.
    made_up = idp.token("alice", kid=f"made-up-{uuid.uuid4()}", signing_key=idp.keys["k1"])
    response = await _exchange(wl.client, made_up)
    assert response.status_code == 401, response.text
    assert "no signing key" in response.json()["detail"]
    assert idp.requests == 1


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def test_new_key_ids_are_fetched_at_most_once_per_interval(idp: IdentityProvider) -> None:
    clock = Clock()
    cache = JwksCache(idp.jwks_url, min_refetch_s=30, max_age_s=3600, clock=clock)
    for _ in range(3):
        assert (await cache.key("k1")).kid == "k1"
    assert idp.requests == 1

    # Unknown key ids: one fetch, then none until the minimum interval has passed again,
    # however many tokens with made-up key ids arrive.
    idp.add_key("k2")
    clock.advance(30)
    for _ in range(5):
        with pytest.raises(Unauthorized, match="no signing key"):
            await cache.key(f"made-up-{uuid.uuid4()}")
    assert idp.requests == 2
    # k2 was published before that fetch, so it is known without another.
    assert (await cache.key("k2")).kid == "k2"
    idp.add_key("k3")
    with pytest.raises(Unauthorized, match="no signing key"):
        await cache.key("k3")
    clock.advance(29.9)
    with pytest.raises(Unauthorized, match="no signing key"):
        await cache.key("k3")
    assert idp.requests == 2
    clock.advance(0.1)
    assert (await cache.key("k3")).kid == "k3"
    assert idp.requests == 3

    # Known keys too are fetched again once they are older than the maximum age.
    clock.advance(3599)
    await cache.key("k1")
    assert idp.requests == 3
    clock.advance(1)
    await cache.key("k1")
    assert idp.requests == 4


async def test_rotated_keys_are_picked_up(
    settings_for: SettingsFactory, idp: IdentityProvider
) -> None:
    settings = _trusting(settings_for(), idp.jwks_url, jwks_min_refetch_s=0)
    async with running(settings, ["catalogue"]) as wl:
        await ok(await _exchange(wl.client, idp.token("alice")), 200)
        idp.add_key("k2")
        idp.published.remove("k1")
        await ok(await _exchange(wl.client, idp.token("alice", kid="k2")), 200)
        assert idp.requests == 2


async def test_an_unreachable_provider_is_unavailable(settings_for: SettingsFactory) -> None:
    settings = _trusting(settings_for(), f"http://127.0.0.1:{free_port()}/jwks")
    provider = IdentityProvider("http://unused")
    provider.add_key("k1")
    async with running(settings, ["catalogue"]) as wl:
        for _ in range(2):
            # The second within the minimum refetch interval: still "unavailable", not "no key".
            response = await _exchange(wl.client, provider.token("alice"))
            assert response.status_code == 503, response.text
            assert "could not be fetched" in response.json()["detail"]


async def test_without_configured_providers_nothing_is_exchanged(
    settings_for: SettingsFactory, idp: IdentityProvider
) -> None:
    async with running(settings_for(), ["catalogue"]) as wl:
        response = await _exchange(wl.client, idp.token("alice"))
        assert response.status_code == 401, response.text
        assert "no external identity provider" in response.json()["detail"]
        assert idp.requests == 0


def test_external_issuers_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issuers: list[dict[str, Any]] = [
        {
            "issuer": ISSUER,
            "jwks_url": "https://idp.example.org/jwks",
            "audience": AUDIENCE,
            "name": "field",
        },
        {
            "issuer": "https://login.example.com",
            "jwks_url": "https://login.example.com/keys",
            "audience": ["wl", "wildlens"],
            "subject_claim": "oid",
            "name": "corp",
        },
    ]
    monkeypatch.setenv("WILDLENS_AUTH__EXTERNAL_ISSUERS", json.dumps(issuers))
    configured = Settings().auth.external_issuers
    assert [(i.name, i.subject_claim) for i in configured] == [("field", "sub"), ("corp", "oid")]
    assert configured[1].audience == ["wl", "wildlens"]

    for bad, reason in (
        ([issuers[0], {**issuers[1], "name": "field"}], "distinct names"),
        ([{**issuers[0], "name": "service"}], "'service' is reserved"),
        ([{**issuers[0], "jwks_url": "file:///etc/keys"}], "jwks_url"),
    ):
        monkeypatch.setenv("WILDLENS_AUTH__EXTERNAL_ISSUERS", json.dumps(bad))
        with pytest.raises(ValueError, match=reason):
            Settings()
