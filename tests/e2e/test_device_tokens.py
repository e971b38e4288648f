"""Gateway tokens: one token for several cameras, listed for managers, revoked everywhere; and
the service tokens the services call each other with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.support.api import Site, bearer, create_site, ok, post_media
from tests.support.factories import Sites, Uploads
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    admin_token,
    eventually,
    running,
    user_token,
)
from wildlens.common.auth import Principal, TokenIssuer, load_keyring, verify_token
from wildlens.common.errors import Unavailable
from wildlens.common.service.clients import ServiceClients
from wildlens.common.settings import Settings

SECRET = "correct horse battery staple"


def _with_secret(settings: Settings, secret: str | None = SECRET) -> Settings:
    auth = settings.auth.model_copy(
        update={"service_secret": SecretStr(secret) if secret is not None else None}
    )
    return settings.model_copy(update={"auth": auth})


def _service_token(settings: Settings, service: str = "ingest") -> str:
    return TokenIssuer(load_keyring(settings), settings.auth.issuer).service_token(service)


async def _second_camera(client: httpx.AsyncClient, admin: str, project_id: str) -> str:
    device = await ok(
        await client.post(
            f"/v1/projects/{project_id}/devices",
            json={"serial": "HF2X-SECOND", "model": "Reconyx-HF2X"},
            headers=bearer(admin),
        ),
        201,
    )
    return str(device["id"])


async def test_tokens_are_listed_and_a_revoked_one_is_refused(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    site: Site,
    upload: Uploads,
    heron_images: list[Path],
) -> None:
    pid = site.project_id
    second = await _second_camera(wl.client, admin, pid)
    gateway = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/devices/{site.device_id}/token",
            json={"also_devices": [second]},
            headers=bearer(admin),
        ),
        201,
    )
    response = await upload.post(heron_images[0])
    assert response.status_code == 202, response.text

    listed = await ok(
        await wl.client.get(f"/v1/projects/{pid}/device-tokens", headers=bearer(admin)), 200
    )
    by_id = {t["token_id"]: t for t in listed["items"]}
    assert set(by_id) >= {gateway["token_id"]}
    assert len(by_id) == 2
    assert sorted(by_id[gateway["token_id"]]["device_ids"]) == sorted([site.device_id, second])
    assert all(t["revoked_at"] is None and t["created_by"] == "admin" for t in by_id.values())
    assert all("token" not in t for t in by_id.values())
    assert site.device_token not in str(listed)
    assert gateway["token"] not in str(listed)

    # Pages, as the other lists do.
    first = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/device-tokens", params={"limit": 1}, headers=bearer(admin)
        ),
        200,
    )
    assert len(first["items"]) == 1
    assert first["next_cursor"]
    rest = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/device-tokens",
            params={"limit": 1, "cursor": first["next_cursor"]},
            headers=bearer(admin),
        ),
        200,
    )
    assert {first["items"][0]["token_id"], rest["items"][0]["token_id"]} == set(by_id)

    # Only managers see or revoke them.
    viewer = user_token(settings, "viewer-1", {pid: "viewer"})
    response = await wl.client.get(f"/v1/projects/{pid}/device-tokens", headers=bearer(viewer))
    assert response.status_code == 403
    response = await wl.client.delete(
        f"/v1/projects/{pid}/device-tokens/{gateway['token_id']}", headers=bearer(viewer)
    )
    assert response.status_code == 403

    # The gateway posts for both cameras until it is revoked.
    accepted = await post_media(
        wl.client, gateway["token"], heron_images[1], fields={"device_id": second}
    )
    assert accepted.status_code == 202, accepted.text

    revoked = await ok(
        await wl.client.delete(
            f"/v1/projects/{pid}/device-tokens/{gateway['token_id']}", headers=bearer(admin)
        ),
        200,
    )
    assert revoked["revoked_at"] is not None
    assert revoked["revoked_by"] == "admin"
    again = await ok(
        await wl.client.delete(
            f"/v1/projects/{pid}/device-tokens/{gateway['token_id']}", headers=bearer(admin)
        ),
        200,
    )
    assert again["revoked_at"] == revoked["revoked_at"]

    async def refused() -> bool:
        response = await post_media(
            wl.client, gateway["token"], heron_images[2], fields={"device_id": second}
        )
        return response.status_code == 401

    # Well before the periodic reload: the broadcast did it.
    await eventually(refused, timeout=5)
    response = await post_media(
        wl.client, gateway["token"], heron_images[2], fields={"device_id": second}
    )
    assert response.json()["detail"] == "token has been revoked"
    # The other gateway's token is untouched.
    response = await upload.post(heron_images[3])
    assert response.status_code == 202, response.text

    # A revoked token can do nothing else either, such as minting more tokens.
    response = await wl.client.post(
        f"/v1/projects/{pid}/devices/{site.device_id}/token", headers=bearer(gateway["token"])
    )
    assert response.status_code == 401

    listed = await ok(
        await wl.client.get(f"/v1/projects/{pid}/device-tokens", headers=bearer(admin)), 200
    )
    states = {t["token_id"]: t["revoked_at"] for t in listed["items"]}
    assert states[gateway["token_id"]] == revoked["revoked_at"]
    assert [v for k, v in states.items() if k != gateway["token_id"]] == [None]

    # Revoking twice announced it once: the list the replicas load holds it once.
    revocations = await ok(
        await wl.client.get("/v1/auth/revocations", headers=bearer(_service_token(settings))),
        200,
    )
    assert [r["token_id"] for r in revocations["items"]] == [gateway["token_id"]]


async def test_another_projects_token_is_not_found(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    ours = await new_site(name="Ours")
    theirs = await new_site(name="Theirs", serial="OTHER-1")
    listed = await ok(
        await wl.client.get(
            f"/v1/projects/{theirs.project_id}/device-tokens", headers=bearer(admin)
        ),
        200,
    )
    their_token = listed["items"][0]["token_id"]
    response = await wl.client.delete(
        f"/v1/projects/{ours.project_id}/device-tokens/{their_token}", headers=bearer(admin)
    )
    assert response.status_code == 404
    # A manager of one project cannot reach the other's tokens through their own.
    manager = user_token(settings, "manager-1", {ours.project_id: "manager"})
    response = await wl.client.get(
        f"/v1/projects/{theirs.project_id}/device-tokens", headers=bearer(manager)
    )
    assert response.status_code == 404
    # Still in force.
    listed = await ok(
        await wl.client.get(
            f"/v1/projects/{theirs.project_id}/device-tokens", headers=bearer(admin)
        ),
        200,
    )
    assert listed["items"][0]["revoked_at"] is None
    # Nor can a token be minted for another project's camera.
    response = await wl.client.post(
        f"/v1/projects/{ours.project_id}/devices/{ours.device_id}/token",
        json={"also_devices": [theirs.device_id]},
        headers=bearer(admin),
    )
    assert response.status_code == 404


async def test_expired_and_device_tokens_cannot_mint_tokens(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site, heron_images: list[Path]
) -> None:
    issuer = TokenIssuer(load_keyring(settings), settings.auth.issuer)
    expired, _ = issuer.device_token(
        site.project_id, [site.device_id], subject="gateway:old", ttl_s=-5
    )
    mint = f"/v1/projects/{site.project_id}/devices/{site.device_id}/token"
    response = await wl.client.post(mint, headers=bearer(expired))
    assert response.status_code == 401
    assert response.json()["detail"] == "token has expired"
    response = await post_media(wl.client, expired, heron_images[0])
    assert response.status_code == 401
    # A live device token may only post media.
    response = await wl.client.post(mint, headers=bearer(site.device_token))
    assert response.status_code == 403
    response = await wl.client.get(
        f"/v1/projects/{site.project_id}/device-tokens", headers=bearer(site.device_token)
    )
    assert response.status_code == 403


async def test_a_replica_started_later_loads_the_revocations(
    settings_for: Any, heron_images: list[Path]
) -> None:
    settings = settings_for()
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        listed = await ok(
            await wl.client.get(
                f"/v1/projects/{site.project_id}/device-tokens", headers=bearer(admin)
            ),
            200,
        )
        token_id = listed["items"][0]["token_id"]
        await ok(
            await wl.client.delete(
                f"/v1/projects/{site.project_id}/device-tokens/{token_id}", headers=bearer(admin)
            ),
            200,
        )

    # A fresh platform on the same data: its broadcast queue did not exist when the revocation
    # was announced, so only the start-up load can know of it, and it must before serving.
    async with running(settings) as later:
        response = await post_media(later.client, site.device_token, heron_images[0])
        assert response.status_code == 401, response.text
        assert response.json()["detail"] == "token has been revoked"
        ready = (await later.client.get("/readyz")).json()
        status = ready["services"]["ingest"]["revocations"]
        assert status["loaded"] is True
        assert status["in_force"] == 1


async def test_service_tokens_in_exchange_for_the_secret(settings_for: Any) -> None:
    # No secret configured: nobody gets a service token this way, and every secret is as
    # wrong as a wrong one.
    settings = settings_for()
    async with running(settings, ["catalogue"]) as wl:
        for secret in ("", SECRET):
            response = await wl.client.post(
                "/v1/auth/service-token", json={"service": "ingest", "secret": secret}
            )
            assert response.status_code == 401
            assert response.json()["detail"] == "wrong service secret"

    settings = _with_secret(settings_for())
    async with running(settings, ["catalogue"]) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        response = await wl.client.post(
            "/v1/auth/service-token", json={"service": "ingest", "secret": SECRET + "x"}
        )
        assert response.status_code == 401
        issued = await ok(
            await wl.client.post(
                "/v1/auth/service-token", json={"service": "ingest", "secret": SECRET}
            ),
            200,
        )
        service = bearer(issued["token"])
        # A service reads across projects, and only services read the revocation list.
        await ok(await wl.client.get(f"/v1/projects/{site.project_id}", headers=service), 200)
        await ok(await wl.client.get("/v1/auth/revocations", headers=service), 200)
        response = await wl.client.get("/v1/auth/revocations", headers=bearer(admin))
        assert response.status_code == 403
        response = await wl.client.get("/v1/auth/revocations")
        assert response.status_code == 401

        # A process without the signing key (an ingest replica elsewhere) obtains its token
        # from this catalogue with the secret and calls it with that.
        public_only = settings.model_copy(
            update={
                "auth": settings.auth.model_copy(update={"private_key": None}),
                "services": settings.services.model_copy(
                    update={"catalogue_url": "http://catalogue.test"}
                ),
            }
        )
        clients = ServiceClients(
            "ingest",
            public_only,
            issuer=None,
            local_app=lambda _name: None,
            transport=httpx.ASGITransport(app=wl.app),
        )
        try:
            catalogue = clients.client("catalogue")
            assert clients.client("catalogue") is catalogue
            response = await catalogue.get("/v1/auth/revocations")
            assert response.status_code == 200, response.text
            token = response.request.headers["Authorization"].removeprefix("Bearer ")
            principal = _principal(settings, token)
            assert principal.kind == "service"
            assert principal.subject == "service:ingest"
        finally:
            await clients.aclose()
        assert catalogue.is_closed

        # With the wrong secret the call fails clearly instead of going out unauthenticated.
        wrong = ServiceClients(
            "ingest",
            _with_secret(public_only, "wrong"),
            issuer=None,
            local_app=lambda _name: None,
            transport=httpx.ASGITransport(app=wl.app),
        )
        try:
            with pytest.raises(Unavailable, match=r"refused a service token \(401\)"):
                await wrong.client("catalogue").get("/v1/auth/revocations")
        finally:
            await wrong.aclose()


def _principal(settings: Settings, token: str) -> Principal:
    return verify_token(token, load_keyring(settings), settings.auth.issuer)


async def test_services_in_one_process_call_each_other_in_process(
    settings_for: SettingsFactory,
) -> None:
    settings = settings_for()
    async with running(settings) as wl:
        ctx = wl.platform.contexts["ingest"]
        catalogue = ctx.client("catalogue")
        assert ctx.client("catalogue") is catalogue
        response = await catalogue.get("/v1/auth/revocations")
        assert response.status_code == 200, response.text
        assert response.json() == {"items": [], "next_cursor": None}
        token = response.request.headers["Authorization"].removeprefix("Bearer ")
        assert _principal(settings, token).subject == "service:ingest"
    # Stopping the platform closes the clients it handed out.
    assert catalogue.is_closed
