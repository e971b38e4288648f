"""The revocation list every verifying process keeps, and how requests are checked with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
from fastapi import FastAPI

from wildlens.common.auth import RevocationList, TokenIssuer, load_keyring
from wildlens.common.auth.revocations import CLOCK_SKEW_S
from wildlens.common.http import PrincipalDep
from wildlens.common.http.errors import install_error_handlers
from wildlens.common.settings import Settings


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_revoked_token_is_refused_until_it_expires() -> None:
    clock = Clock()
    revoked = RevocationList(clock)
    revoked.add("a", clock.now + 100)
    assert "a" in revoked
    assert "b" not in revoked
    clock.now += 100 + CLOCK_SKEW_S - 1
    # Still listed through the allowance for verifiers whose clock runs behind.
    assert "a" in revoked
    clock.now += 2
    assert "a" not in revoked
    assert revoked.prune() == 1
    assert len(revoked) == 0


def test_entries_past_expiry_are_dropped_as_others_arrive() -> None:
    clock = Clock()
    revoked = RevocationList(clock)
    for i in range(100):
        revoked.add(f"old-{i}", clock.now + 10)
    clock.now += 10 + CLOCK_SKEW_S + 1
    revoked.add("new", datetime.fromtimestamp(clock.now + 3600, UTC))
    assert list(revoked) == ["new"]


def test_an_already_expired_token_is_not_kept() -> None:
    clock = Clock()
    revoked = RevocationList(clock)
    revoked.add("gone", clock.now - CLOCK_SKEW_S - 1)
    assert len(revoked) == 0


def test_the_later_expiry_wins_and_an_unknown_expiry_is_kept() -> None:
    clock = Clock()
    revoked = RevocationList(clock)
    revoked.add("a", clock.now + 10)
    revoked.add("a", clock.now + 1000)
    revoked.add("a", clock.now + 5)  # a stale report does not shorten it
    revoked.add("forever")
    clock.now += 500
    assert "a" in revoked
    clock.now += 10**9
    assert "a" not in revoked
    assert "forever" in revoked


async def test_requests_with_a_listed_token_are_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    keys = load_keyring(settings)
    issuer = TokenIssuer(keys, settings.auth.issuer)
    app = FastAPI()
    install_error_handlers(app)
    app.state.platform = SimpleNamespace(keys=keys, settings=settings)
    app.state.revoked_tokens = RevocationList()

    @app.get("/whoami")
    async def whoami(principal: PrincipalDep) -> dict[str, str]:
        return {"subject": principal.subject}

    token, token_id = issuer.device_token("p1", ["d1"], subject="gateway:d1", ttl_s=60)
    other, _ = issuer.device_token("p1", ["d2"], subject="gateway:d2", ttl_s=60)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/whoami", headers=headers)).status_code == 200
        app.state.revoked_tokens.add(token_id, datetime.now(UTC).timestamp() + 60)
        response = await client.get("/whoami", headers=headers)
        assert response.status_code == 401
        assert response.json()["detail"] == "token has been revoked"
        response = await client.get("/whoami", headers={"Authorization": f"Bearer {other}"})
        assert response.status_code == 200
