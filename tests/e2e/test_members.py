"""Project members: added, changed and removed by admins and managers, effective in the
catalogue at once, and a project never left without an admin."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.api import bearer, ok
from tests.support.factories import Projects, Tokens
from tests.support.platform import RunningPlatform
from wildlens.catalogue.access import project_principal
from wildlens.common.auth import load_keyring, verify_token
from wildlens.common.settings import Settings

LOCATION = {"name": "Pond", "latitude": 50.7, "longitude": 4.0}


# Memberships are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")


async def _put(
    client: httpx.AsyncClient,
    token: str,
    pid: str,
    subject: str,
    role: str,
    permissions: list[str] | None = None,
) -> httpx.Response:
    return await client.put(
        f"/v1/projects/{pid}/members/{subject}",
        json={"role": role, "permissions": permissions or []},
        headers=bearer(token),
    )


async def test_membership_changes_take_effect_at_once(
    wl: RunningPlatform, admin: str, project: str, token_for: Tokens
) -> None:
    pid = project
    alice = token_for("alice")
    project_url = f"/v1/projects/{pid}"

    assert (await wl.client.get(project_url, headers=bearer(alice))).status_code == 404

    added = await ok(await _put(wl.client, admin, pid, "alice", "viewer"), 201)
    assert added["subject"] == "alice"
    assert added["role"] == "viewer"
    assert added["permissions"] == []
    assert added["project_id"] == pid
    # The same token, unchanged: the catalogue reads the membership.
    await ok(await wl.client.get(project_url, headers=bearer(alice)), 200)
    refused = await wl.client.post(f"{project_url}/locations", json=LOCATION, headers=bearer(alice))
    assert refused.status_code == 403, refused.text

    changed = await ok(await _put(wl.client, admin, pid, "alice", "manager"), 200)
    assert changed["role"] == "manager"
    assert changed["created_at"] == added["created_at"]
    await ok(
        await wl.client.post(f"{project_url}/locations", json=LOCATION, headers=bearer(alice)),
        201,
    )

    listed = await ok(await wl.client.get(f"{project_url}/members", headers=bearer(admin)), 200)
    assert {m["subject"]: m["role"] for m in listed["items"]} == {
        "admin": "admin",
        "alice": "manager",
    }
    assert listed["next_cursor"] is None
    first = await ok(
        await wl.client.get(f"{project_url}/members?limit=1", headers=bearer(admin)), 200
    )
    assert len(first["items"]) == 1
    assert first["next_cursor"]

    removed = await wl.client.delete(f"{project_url}/members/alice", headers=bearer(admin))
    assert removed.status_code == 204, removed.text
    assert (await wl.client.get(project_url, headers=bearer(alice))).status_code == 404
    gone = await wl.client.get(f"{project_url}/members/alice", headers=bearer(admin))
    assert gone.status_code == 404
    again = await wl.client.delete(f"{project_url}/members/alice", headers=bearer(admin))
    assert again.status_code == 404


async def test_managers_manage_up_to_their_own_rank(
    wl: RunningPlatform, admin: str, project: str, token_for: Tokens
) -> None:
    pid = project
    await ok(await _put(wl.client, admin, pid, "mia", "manager"), 201)
    mia = token_for("mia")

    await ok(await _put(wl.client, mia, pid, "bob", "annotator"), 201)
    await ok(await _put(wl.client, mia, pid, "carl", "manager"), 201)
    for subject, role in (("dora", "admin"), ("carl", "admin"), ("admin", "viewer")):
        response = await _put(wl.client, mia, pid, subject, role)
        assert response.status_code == 403, (subject, role, response.text)
    refused = await wl.client.delete(f"/v1/projects/{pid}/members/admin", headers=bearer(mia))
    assert refused.status_code == 403, refused.text

    # Permissions are granted only by those who hold them.
    response = await _put(wl.client, mia, pid, "bob", "annotator", ["precise_locations"])
    assert response.status_code == 403, response.text
    await ok(await _put(wl.client, admin, pid, "mia", "manager", ["precise_locations"]), 200)
    granted = await ok(
        await _put(wl.client, mia, pid, "bob", "annotator", ["precise_locations"]), 200
    )
    assert granted["permissions"] == ["precise_locations"]
    unknown = await _put(wl.client, admin, pid, "bob", "annotator", ["see_everything"])
    assert unknown.status_code == 422, unknown.text
    bad_role = await _put(wl.client, admin, pid, "bob", "overlord")
    assert bad_role.status_code == 422, bad_role.text

    # An annotator sees their own membership only, changes none, and may leave.
    bob = token_for("bob")
    members = f"/v1/projects/{pid}/members"
    own = await ok(await wl.client.get(f"{members}/bob", headers=bearer(bob)), 200)
    assert own["role"] == "annotator"
    assert (await wl.client.get(f"{members}/mia", headers=bearer(bob))).status_code == 403
    assert (await wl.client.get(members, headers=bearer(bob))).status_code == 403
    assert (await _put(wl.client, bob, pid, "eve", "viewer")).status_code == 403
    assert (await wl.client.delete(f"{members}/carl", headers=bearer(bob))).status_code == 403
    left = await wl.client.delete(f"{members}/bob", headers=bearer(bob))
    assert left.status_code == 204, left.text
    assert (await wl.client.get(f"/v1/projects/{pid}", headers=bearer(bob))).status_code == 404

    # Managers remove members up to manager.
    removed = await wl.client.delete(f"{members}/carl", headers=bearer(mia))
    assert removed.status_code == 204, removed.text


async def test_the_last_admin_stays(wl: RunningPlatform, admin: str, token_for: Tokens) -> None:
    founder = token_for("founder")
    pid = await Projects(wl.client, founder)()
    members = f"/v1/projects/{pid}/members"

    removing = await wl.client.delete(f"{members}/founder", headers=bearer(founder))
    assert removing.status_code == 409, removing.text
    assert removing.json()["error"] == "Conflict"
    demoting = await _put(wl.client, founder, pid, "founder", "manager")
    assert demoting.status_code == 409, demoting.text
    # A platform admin is bound by the same rule: the project needs an admin of its own.
    assert (await _put(wl.client, admin, pid, "founder", "viewer")).status_code == 409

    await ok(await _put(wl.client, founder, pid, "heir", "admin"), 201)
    demoted = await ok(await _put(wl.client, founder, pid, "founder", "manager"), 200)
    assert demoted["role"] == "manager"
    heir = token_for("heir")
    assert (await wl.client.delete(f"{members}/heir", headers=bearer(heir))).status_code == 409
    # The demoted founder can no longer touch the admin.
    founder_now = await _put(wl.client, founder, pid, "heir", "viewer")
    assert founder_now.status_code == 403, founder_now.text
    listed = await ok(await wl.client.get(members, headers=bearer(heir)), 200)
    assert {m["subject"]: m["role"] for m in listed["items"]} == {
        "founder": "manager",
        "heir": "admin",
    }


async def test_another_projects_members_are_not_found(
    wl: RunningPlatform, admin: str, new_project: Projects, token_for: Tokens
) -> None:
    ours = await new_project("ours")
    await ok(await _put(wl.client, admin, ours, "alice", "viewer"), 201)
    outsider = token_for("outsider")
    await Projects(wl.client, outsider)("theirs")

    for pid in (ours, str(uuid.uuid4())):
        members = f"/v1/projects/{pid}/members"
        for response in (
            await wl.client.get(members, headers=bearer(outsider)),
            await wl.client.get(f"{members}/alice", headers=bearer(outsider)),
            await _put(wl.client, outsider, pid, "outsider", "admin"),
            await wl.client.delete(f"{members}/alice", headers=bearer(outsider)),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["error"] == "NotFound"
    still = await ok(
        await wl.client.get(f"/v1/projects/{ours}/members/alice", headers=bearer(admin)), 200
    )
    assert still["role"] == "viewer"


async def test_who_is_a_member_is_not_for_members_below_manager_to_learn(
    wl: RunningPlatform, admin: str, new_project: Projects, token_for: Tokens
) -> None:
    pid = await new_project("ours")
    await ok(await _put(wl.client, admin, pid, "alice", "viewer"), 201)
    for role in ("viewer", "volunteer", "annotator"):
        await ok(await _put(wl.client, admin, pid, f"a-{role}", role), 201)
        token = token_for(f"a-{role}")
        # Removing a member and removing someone who is none are refused alike.
        for subject in ("alice", "nobody-here"):
            for response in (
                await wl.client.get(f"/v1/projects/{pid}/members/{subject}", headers=bearer(token)),
                await wl.client.delete(
                    f"/v1/projects/{pid}/members/{subject}", headers=bearer(token)
                ),
            ):
                assert response.status_code == 403, (role, subject, response.text)
    await ok(await wl.client.get(f"/v1/projects/{pid}/members/alice", headers=bearer(admin)), 200)


async def test_precise_locations_comes_from_the_membership(
    wl: RunningPlatform, settings: Settings, admin: str, project: str, token_for: Tokens
) -> None:
    pid = project
    await ok(await _put(wl.client, admin, pid, "ranger", "viewer", ["precise_locations"]), 201)
    await ok(await _put(wl.client, admin, pid, "walker", "viewer"), 201)
    keys = load_keyring(settings)
    ctx = wl.platform.contexts["catalogue"]

    async def seen(subject: str) -> bool:
        caller = verify_token(token_for(subject), keys, settings.auth.issuer)
        assert not caller.has_permission(pid, "precise_locations")
        async with ctx.db.transaction() as session:
            effective = await project_principal(session, caller, uuid.UUID(pid))
        return effective.has_permission(pid, "precise_locations")

    assert await seen("ranger")
    assert not await seen("walker")
    await ok(await _put(wl.client, admin, pid, "ranger", "viewer"), 200)
    assert not await seen("ranger")
