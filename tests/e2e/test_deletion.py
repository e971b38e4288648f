"""Managers delete media and deployments; everything hanging off them goes, and the audit log
remembers who removed what, when, and the rows as they were."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_taxa import import_tree
from tests.e2e.test_verification import analyse, analysis, media, upload
from tests.support.api import Site, bearer, ok, post_media
from tests.support.factories import Sites
from tests.support.platform import (
    RunningPlatform,
    eventually,
    get_media,
    processed_count,
    user_token,
)
from wildlens.common.settings import Settings
from wildlens.ingest.derivatives.jobs import display_key, thumbnail_key

# Media go up through ingest to the catalogue, and analyses come as inference's events.
pytestmark = pytest.mark.services("catalogue", "ingest", "inference")


async def test_managers_delete_media_and_deployments_and_the_log_remembers(
    wl: RunningPlatform, settings: Settings, admin: str, heron_images: list[Path], new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    pid = site.project_id
    manager = user_token(settings, "boss", {pid: "manager"})
    annotator = user_token(settings, "ann", {pid: "annotator"})
    first, second, third = await upload(wl, admin, site, heron_images[:3])
    await analyse(
        wl,
        admin,
        *(analysis(m, pid, "1.0", ("heron", "Ardea cinerea", 0.9)) for m in (first, second)),
    )
    (obs,) = (await media(wl, admin, first))["observations"]
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/observations/{obs['id']}/correct",
            json={"taxon_id": taxa["Ardea alba"]},
            headers=bearer(annotator),
        ),
        200,
    )

    # Only managers delete; other projects' media and unknown ids are not there.
    url = f"/v1/projects/{pid}/media/{first}"
    refused = await wl.client.delete(url, headers=bearer(annotator))
    assert refused.status_code == 403, refused.text
    theirs = await ok(
        await wl.client.post("/v1/projects", json={"name": "theirs"}, headers=bearer(admin)),
        201,
    )
    elsewhere = await wl.client.delete(
        f"/v1/projects/{theirs['id']}/media/{first}", headers=bearer(admin)
    )
    assert elsewhere.status_code == 404, elsewhere.text
    unknown = await wl.client.delete(
        f"/v1/projects/{pid}/media/{uuid.uuid4()}", headers=bearer(manager)
    )
    assert unknown.status_code == 404, unknown.text
    assert await get_media(wl.client, admin, first) is not None

    entry = await ok(await wl.client.delete(url, headers=bearer(manager)), 200)
    assert (entry["action"], entry["object_id"], entry["actor"]) == (
        "media.deleted",
        first,
        "boss",
    )
    assert entry["snapshot"]["media"]["id"] == first
    (kept,) = entry["snapshot"]["observations"]
    assert (kept["id"], kept["scientific_name"]) == (obs["id"], "Ardea alba")
    assert len(entry["snapshot"]["model_runs"]) == 1
    assert await get_media(wl.client, admin, first) is None
    gone = await wl.client.get(
        f"/v1/projects/{pid}/observations/{obs['id']}", headers=bearer(admin)
    )
    assert gone.status_code == 404, gone.text
    # The rest of the deployment is untouched.
    assert await get_media(wl.client, admin, second) is not None
    listed = await ok(await wl.client.get(f"/v1/projects/{pid}/media", headers=bearer(admin)), 200)
    assert {m["id"] for m in listed["items"]} == {second, third}

    # A deployment goes with its media, their observations and their stored files.
    hashes = [(await get_media(wl.client, admin, m) or {})["sha256"] for m in (second, third)]
    originals = [f"media/{sha[:2]}/{sha}.jpg" for sha in hashes]
    assert all([await wl.platform.store.exists(key) for key in originals])
    url = f"/v1/projects/{pid}/deployments/{site.deployment_id}"
    refused = await wl.client.delete(url, headers=bearer(annotator))
    assert refused.status_code == 403, refused.text
    entry = await ok(await wl.client.delete(url, headers=bearer(manager)), 200)
    assert entry["action"] == "deployment.deleted"
    assert set(entry["snapshot"]["media_ids"]) == {second, third}
    assert entry["snapshot"]["observation_count"] == 1
    assert entry["snapshot"]["deployment"]["id"] == site.deployment_id
    for m in (second, third):
        assert await get_media(wl.client, admin, m) is None

    async def files_gone() -> bool:
        return not any([await wl.platform.store.exists(key) for key in originals])

    await eventually(files_gone)
    missing = await wl.client.get(url, headers=bearer(admin))
    assert missing.status_code == 404, missing.text
    observations = await ok(
        await wl.client.get(f"/v1/projects/{pid}/observations", headers=bearer(admin)), 200
    )
    assert observations["items"] == []

    # The log, newest first, for managers only.
    log_url = f"/v1/projects/{pid}/audit"
    refused = await wl.client.get(log_url, headers=bearer(annotator))
    assert refused.status_code == 403, refused.text
    page = await ok(await wl.client.get(log_url, params={"limit": 1}, headers=bearer(manager)), 200)
    rest = await ok(
        await wl.client.get(
            log_url, params={"cursor": page["next_cursor"]}, headers=bearer(manager)
        ),
        200,
    )
    assert [e["action"] for e in page["items"] + rest["items"]] == [
        "deployment.deleted",
        "media.deleted",
    ]
    assert rest["next_cursor"] is None
    bad = await wl.client.get(log_url, params={"cursor": "x"}, headers=bearer(manager))
    assert bad.status_code == 422, bad.text


async def test_deleted_media_take_their_stored_files_unless_other_media_share_them(
    wl: RunningPlatform, admin: str, heron_images: list[Path], new_site: Sites
) -> None:
    store = wl.platform.store
    here, there = await new_site(), await new_site()
    shared, own = heron_images[0].read_bytes(), heron_images[1].read_bytes()

    async def post(site: Site, data: bytes) -> dict[str, Any]:
        body: dict[str, Any] = await ok(
            await post_media(wl.client, site.device_token, data=data), 202
        )
        await eventually(lambda: get_media(wl.client, admin, body["media_id"]))
        await eventually(lambda: store.exists(thumbnail_key(body["sha256"])))
        return body

    def files(sha: str) -> list[str]:
        return [f"media/{sha[:2]}/{sha}.jpg", display_key(sha), thumbnail_key(sha)]

    async def stored(sha: str) -> list[bool]:
        return [await store.exists(key) for key in files(sha)]

    async def removals() -> int:
        return await processed_count(wl, "ingest", "ingest:media.deleted")

    async def delete(site: Site, media_id: str) -> None:
        before = await removals()
        await ok(
            await wl.client.delete(
                f"/v1/projects/{site.project_id}/media/{media_id}", headers=bearer(admin)
            ),
            200,
        )
        await eventually(lambda: _more(removals, before))

    mine = await post(here, own)
    await delete(here, mine["media_id"])
    assert await stored(mine["sha256"]) == [False, False, False]
    # The same photo posted again is a new medium, recorded and stored anew.
    again = await post(here, own)
    assert again["media_id"] != mine["media_id"]
    assert not again["duplicate"]
    assert await stored(again["sha256"]) == [True, True, True]

    # Bytes two projects posted stay until the last medium with them goes.
    first, second = await post(here, shared), await post(there, shared)
    assert first["sha256"] == second["sha256"]
    await delete(here, first["media_id"])
    assert await stored(first["sha256"]) == [True, True, True]
    assert await get_media(wl.client, admin, second["media_id"]) is not None
    await delete(there, second["media_id"])
    assert await stored(first["sha256"]) == [False, False, False]
    # The photo deleted and posted again keeps its files through all of that.
    assert await stored(again["sha256"]) == [True, True, True]


async def _more(count: Callable[[], Awaitable[int]], than: int) -> bool:
    return await count() > than
