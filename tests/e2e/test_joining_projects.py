"""Volunteers join projects that are open to them, through the citsci API (the catalogue keeps
the membership): with a Wildlens token, or with one exchanged for an identity provider's.
A closed project refuses, a member keeps a higher role, joining twice changes nothing, and
the token the join answers works for the volunteer routes at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.test_builtin_volunteers import _classify, _next, _photos
from tests.e2e.test_token_exchange import IdentityProvider, _trusting, idp  # noqa: F401
from tests.support.api import bearer, ok
from tests.support.factories import Sites
from tests.support.platform import RunningPlatform, SettingsFactory, user_token
from wildlens.common.auth import load_keyring, verify_token
from wildlens.common.settings import Settings

pytestmark = pytest.mark.services("catalogue", "ingest", "citsci")

HERON = "Ardea cinerea"


@pytest.fixture
def settings(settings_for: SettingsFactory, idp: IdentityProvider) -> Settings:  # noqa: F811
    """The platform trusts the test's identity provider."""
    return _trusting(settings_for(), idp.jwks_url)


async def _join(wl: RunningPlatform, token: str, pid: str, status: int = 200) -> dict[str, Any]:
    path = f"/v1/citsci/projects/{pid}/join"
    return dict(await ok(await wl.client.post(path, headers=bearer(token)), status))


async def _open(wl: RunningPlatform, admin: str, pid: str, value: bool) -> None:
    project = await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}", json={"open_to_volunteers": value}, headers=bearer(admin)
        ),
        200,
    )
    assert project["open_to_volunteers"] is value


async def _role(wl: RunningPlatform, admin: str, pid: str, subject: str) -> str:
    member = await ok(
        await wl.client.get(f"/v1/projects/{pid}/members/{subject}", headers=bearer(admin)), 200
    )
    return str(member["role"])


async def test_volunteers_join_an_open_project_and_classify(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    site = await new_site()
    pid = site.project_id
    (medium,) = await _photos(wl, admin, site.device_token, 1)
    project = await ok(await wl.client.get(f"/v1/projects/{pid}", headers=bearer(admin)), 200)
    assert project["open_to_volunteers"] is False
    walker = user_token(settings, "walker", {})
    viewer = user_token(settings, "viewer-1", {pid: "viewer"})
    manager = user_token(settings, "manager-1", {pid: "manager"})
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/members/manager-1", json={"role": "manager"}, headers=bearer(admin)
        ),
        201,
    )

    # Closed: a stranger cannot tell it from no project; a viewer hears why not.
    refused = await _join(wl, walker, pid, 404)
    assert "not open to volunteers" in refused["detail"]
    refused = await _join(wl, viewer, pid, 403)
    assert "not open to volunteers" in refused["detail"]
    await _join(wl, site.device_token, pid, 403)
    await ok(await wl.client.post(f"/v1/citsci/projects/{pid}/join"), 401)
    missing = "00000000-0000-4000-8000-000000000000"
    await _join(wl, walker, missing, 404)
    # Only managers open it.
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}", json={"open_to_volunteers": True}, headers=bearer(viewer)
        ),
        403,
    )
    await _open(wl, admin, pid, True)

    # A stranger joins, once: the token answered carries the role, and works at once.
    joined = await _join(wl, walker, pid)
    assert (joined["role"], joined["joined"], joined["subject"]) == ("volunteer", True, "walker")
    again = await _join(wl, walker, pid)
    assert (again["role"], again["joined"]) == ("volunteer", False)
    assert await _role(wl, admin, pid, "walker") == "volunteer"
    token = joined["access_token"]
    keys = load_keyring(settings)
    issued = verify_token(token, keys, settings.auth.issuer)
    assert issued.roles == {pid: "volunteer"}
    # It expires with the token the walker came with, never later.
    came_with = verify_token(walker, keys, settings.auth.issuer).expires_at
    assert issued.expires_at is not None
    assert came_with is not None
    assert issued.expires_at <= came_with
    assert joined["expires_in"] <= settings.auth.token_ttl_s
    # The token the walker came with does not carry the role.
    await ok(
        await wl.client.get(
            "/v1/citsci/subjects/next", params={"project_id": pid}, headers=bearer(walker)
        ),
        404,
    )
    manager_set = await ok(
        await wl.client.post(
            "/v1/citsci/subject-sets",
            json={"project_id": pid, "name": "Open pond"},
            headers=bearer(manager),
        ),
        201,
    )
    await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{manager_set['id']}/subjects",
            json={"subjects": [{"media_ids": [medium]}]},
            headers=bearer(manager),
        ),
        201,
    )
    shown = await _next(wl, token, pid)
    assert shown is not None
    answer = await _classify(wl, token, shown["id"], {"taxa": [{"scientific_name": HERON}]})
    assert answer["subject_state"] == "active"

    # Two joins at once make one membership.
    both = user_token(settings, "eager", {})
    answers = await asyncio.gather(_join(wl, both, pid), _join(wl, both, pid))
    assert [a["role"] for a in answers] == ["volunteer", "volunteer"]
    assert await _role(wl, admin, pid, "eager") == "volunteer"

    # A viewer becomes a volunteer; a manager stays one.
    assert (await _join(wl, viewer, pid))["role"] == "volunteer"
    kept = await _join(wl, manager, pid)
    assert (kept["role"], kept["joined"]) == ("manager", False)
    assert await _role(wl, admin, pid, "manager-1") == "manager"

    # A token minted with roles of its own (here none) gets them and the new one back, never
    # every membership its subject holds: manager-1 manages pid, but not through this token.
    other = (await new_site()).project_id
    await _open(wl, admin, other, True)
    scoped = await _join(wl, user_token(settings, "manager-1", {}), other)
    assert verify_token(scoped["access_token"], keys, settings.auth.issuer).roles == {
        other: "volunteer"
    }

    # A subject longer than a membership keeps is told so, not failed.
    long = await _join(wl, user_token(settings, "x" * 250, {}), other, 422)
    assert "at most 200 characters" in long["detail"]

    # Closed again, members stay, and nobody new gets in.
    await _open(wl, admin, pid, False)
    assert (await _join(wl, walker, pid))["joined"] is False
    await _join(wl, user_token(settings, "late", {}), pid, 404)


async def test_a_user_of_an_identity_provider_joins_with_the_exchanged_token(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    idp: IdentityProvider,  # noqa: F811
) -> None:
    created = await ok(
        await wl.client.post(
            "/v1/projects",
            json={"name": "Open pond", "open_to_volunteers": True},
            headers=bearer(admin),
        ),
        201,
    )
    pid = created["id"]
    exchanged = await ok(
        await wl.client.post("/v1/auth/token", json={"subject_token": idp.token("alice")}), 200
    )
    token = exchanged["access_token"]
    await ok(
        await wl.client.get(
            "/v1/citsci/subjects/next", params={"project_id": pid}, headers=bearer(token)
        ),
        404,
    )
    joined = await _join(wl, token, pid)
    assert (joined["subject"], joined["role"], joined["joined"]) == (
        "field:alice",
        "volunteer",
        True,
    )
    for usable in (
        joined["access_token"],
        # A later exchange carries the membership as well.
        (
            await ok(
                await wl.client.post("/v1/auth/token", json={"subject_token": idp.token("alice")}),
                200,
            )
        )["access_token"],
    ):
        answer = await ok(
            await wl.client.get(
                "/v1/citsci/subjects/next", params={"project_id": pid}, headers=bearer(usable)
            ),
            200,
        )
        assert answer == {"subject": None}
    assert await _role(wl, admin, pid, "field:alice") == "volunteer"
