"""SD-card bulk uploads: manifest in pages, bytes PUT to staging, verified, then ingested.

Run on the embedded backends (signed PUT routes on the platform itself) and on the real ones
(presigned PUT URLs of an S3 server).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import bad_files
from tests.support.api import Site, bearer, create_site, ok, post_media, put_signed
from tests.support.platform import RunningPlatform, admin_token, eventually, running
from wildlens.common.settings import Settings
from wildlens.ingest.settings import IngestSettings

# Media go up through ingest to the catalogue; nothing here needs the other services.
pytestmark = pytest.mark.services("catalogue", "ingest")


def _entry(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


async def _objects(wl: RunningPlatform, prefix: str) -> list[str]:
    return [info.key for info in await wl.platform.store.list(prefix)]


def _small_pages(settings: Settings, size: int) -> Settings:
    return settings.model_copy(
        update={
            "ingest": IngestSettings.of(settings).model_copy(update={"manifest_page_size": size})
        }
    )


async def _recorded(client: httpx.AsyncClient, token: str, media_id: str) -> dict[str, Any] | None:
    response = await client.get(f"/v1/media/{media_id}", headers=bearer(token))
    return None if response.status_code == 404 else dict(response.json())


async def test_an_sd_card_goes_up_in_pages_resumes_and_only_verified_bytes_become_media(
    settings_for: Any, heron_images: list[Path]
) -> None:
    settings = _small_pages(settings_for(), 5)
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        h = bearer(admin)
        images = {f"DCIM/100RECNX/{p.name}": p.read_bytes() for p in heron_images}
        names = list(images)
        # One image reached the platform earlier, from the camera's gateway.
        await ok(await post_media(wl.client, site.device_token, heron_images[0]), 202)

        manifest = [_entry(name, images[name]) for name in names]
        manifest.append(_entry("DCIM/100RECNX/RCNX9999.JPG", bad_files.html_named_jpg()))
        manifest.append(_entry("DCIM/101RECNX/copy.JPG", images[names[1]]))  # same bytes
        manifest[2]["name"] = "../../../etc/" + names[2].rsplit("/", 1)[-1]

        too_many = await wl.client.post(
            "/v1/uploads",
            json={"project_id": site.project_id, "files": manifest[:6]},
            headers=h,
        )
        assert too_many.status_code == 422, too_many.text
        assert too_many.json()["fields"][0]["location"] == ["body", "files"]

        created = await ok(
            await wl.client.post(
                "/v1/uploads",
                json={
                    "project_id": site.project_id,
                    "deployment_id": site.deployment_id,
                    "files": manifest[:5],
                },
                headers=h,
            ),
            201,
        )
        upload_id = created["id"]
        files = list(created["files"])
        for start in (5, 10):
            page = await ok(
                await wl.client.post(
                    f"/v1/uploads/{upload_id}/files",
                    json={"files": manifest[start : start + 5]},
                    headers=h,
                ),
                200,
            )
            files.extend(page["files"])
        by_sha = {f["sha256"]: f for f in files}
        # 10 images and the HTML page; the copy collapsed onto the original.
        assert len({f["n"] for f in files}) == 11
        first = by_sha[manifest[0]["sha256"]]
        assert first["already_have"] is True
        assert first["state"] == "already_have"
        assert first["upload_url"] is None
        assert by_sha[manifest[2]["sha256"]]["name"] == "etc/" + names[2].rsplit("/", 1)[-1]
        pending = [f for f in by_sha.values() if f["state"] == "pending"]
        assert len(pending) == 10
        assert all(f["upload_url"] for f in pending)

        bytes_for = {hashlib.sha256(data).hexdigest(): data for data in images.values()}
        bytes_for[manifest[10]["sha256"]] = bad_files.html_named_jpg()

        # The first half goes up; then the uploader is interrupted.
        for f in pending[:4]:
            await put_signed(
                wl.client, wl.settings.public_url, f["upload_url"], bytes_for[f["sha256"]]
            )
        progress = await ok(await wl.client.get(f"/v1/uploads/{upload_id}", headers=h), 200)
        assert progress["counts"] == {
            "expected": 11,
            "already_have": 1,
            "received": 4,
            "ingested": 0,
            "rejected": 0,
            "pending": 6,
        }
        done = await ok(await wl.client.post(f"/v1/uploads/{upload_id}/complete", headers=h), 200)
        assert len(done["processed"]) == 4
        assert done["counts"]["ingested"] == 4
        assert done["counts"]["pending"] == 6

        # Resuming hands out URLs only for what is still missing.
        fresh = await ok(await wl.client.post(f"/v1/uploads/{upload_id}/urls", headers=h), 200)
        assert {f["n"] for f in fresh["files"]} == {f["n"] for f in pending[4:]}
        for f in fresh["files"]:
            await put_signed(
                wl.client, wl.settings.public_url, f["upload_url"], bytes_for[f["sha256"]]
            )
        done = await ok(await wl.client.post(f"/v1/uploads/{upload_id}/complete", headers=h), 200)
        rejected = [f for f in done["processed"] if f["state"] == "rejected"]
        assert [f["name"] for f in rejected] == ["DCIM/100RECNX/RCNX9999.JPG"]
        assert "html" in rejected[0]["error"].lower()
        final = {
            "expected": 11,
            "already_have": 1,
            "received": 0,
            "ingested": 9,
            "rejected": 1,
            "pending": 0,
        }
        assert done["counts"] == final

        # Completing again is harmless.
        again = await ok(await wl.client.post(f"/v1/uploads/{upload_id}/complete", headers=h), 200)
        assert again["processed"] == []
        assert again["counts"] == final
        empty = await ok(await wl.client.post(f"/v1/uploads/{upload_id}/urls", headers=h), 200)
        assert empty["files"] == []

        progress = await ok(
            await wl.client.get(
                f"/v1/uploads/{upload_id}", params={"state": "rejected"}, headers=h
            ),
            200,
        )
        assert [f["error"] for f in progress["files"]] == [rejected[0]["error"]]
        assert await _objects(wl, "staging/") == []
        assert len(await _objects(wl, "media/")) == 10

        # Each ingested file flowed on to the catalogue, in the upload's deployment.
        everything = await ok(
            await wl.client.get(f"/v1/uploads/{upload_id}", params={"limit": 100}, headers=h), 200
        )
        ingested = [f for f in everything["files"] if f["state"] == "ingested"]
        assert len(ingested) == 9
        for f in ingested:
            media = await eventually(
                functools.partial(_recorded, wl.client, admin, f["media_id"]), timeout=30
            )
            assert media["deployment_id"] == site.deployment_id

        # The same card again: everything is already there, nothing to PUT.
        repeat = await ok(
            await wl.client.post(
                "/v1/uploads",
                json={"project_id": site.project_id, "files": manifest[:5]},
                headers=h,
            ),
            201,
        )
        assert all(f["already_have"] and f["upload_url"] is None for f in repeat["files"])


async def test_bytes_that_do_not_match_the_manifest_never_become_media(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    declared = bad_files.real_jpeg()
    other = bad_files.small_jpeg()
    swapped = declared[:-1] + bytes([declared[-1] ^ 0xFF])  # same size, another hash
    manifest = [
        _entry("a.JPG", declared),
        _entry("b.JPG", declared + b"\0"),
    ]
    # A device token works without naming the project: the token says which.
    created = await ok(
        await wl.client.post(
            "/v1/uploads", json={"files": manifest}, headers=bearer(site.device_token)
        ),
        201,
    )
    a, b = created["files"]
    await put_signed(wl.client, wl.settings.public_url, a["upload_url"], swapped)
    await put_signed(wl.client, wl.settings.public_url, b["upload_url"], other)
    done = await ok(
        await wl.client.post(
            f"/v1/uploads/{created['id']}/complete", headers=bearer(site.device_token)
        ),
        200,
    )
    errors = {f["name"]: f["error"] for f in done["processed"]}
    assert {f["state"] for f in done["processed"]} == {"rejected"}
    assert "SHA-256" in errors["a.JPG"]
    assert "manifest says" in errors["b.JPG"]
    assert await _objects(wl, "media/") == []
    assert await _objects(wl, "staging/") == []
    ingest = wl.platform.contexts["ingest"]
    assert await ingest.relay.relay_once() == 0

    # A rejected file gets no new URL; a stale URL's bytes are thrown away on completion.
    fresh = await ok(
        await wl.client.post(
            f"/v1/uploads/{created['id']}/urls", headers=bearer(site.device_token)
        ),
        200,
    )
    assert fresh["files"] == []
    await put_signed(wl.client, wl.settings.public_url, a["upload_url"], declared)
    await ok(
        await wl.client.post(
            f"/v1/uploads/{created['id']}/complete", headers=bearer(site.device_token)
        ),
        200,
    )
    assert await _objects(wl, "media/") == []
    assert await _objects(wl, "staging/") == []


async def test_bad_manifests_are_refused_naming_the_field(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site
) -> None:
    h = bearer(admin)
    good = _entry("ok.JPG", b"x")

    async def refused(body: Any, where: list[Any]) -> None:
        response = await wl.client.post("/v1/uploads", json=body, headers=h)
        assert response.status_code == 422, response.text
        assert where in [f["location"] for f in response.json()["fields"]], response.json()

    pid = site.project_id
    await refused(
        {"project_id": pid, "files": [{**good, "sha256": "abc"}]},
        ["body", "files", 0, "sha256"],
    )
    await refused(
        {"project_id": pid, "files": [good, {**good, "size": 0}]}, ["body", "files", 1, "size"]
    )
    await refused(
        {"project_id": pid, "files": [{"size": 1, "sha256": good["sha256"]}]},
        ["body", "files", 0, "name"],
    )
    await refused({"files": [good]}, ["body", "project_id"])
    limit = IngestSettings.of(settings).max_video_bytes + 1
    await refused(
        {"project_id": pid, "files": [{**good, "size": limit}]}, ["body", "files", 0, "size"]
    )
    await refused(
        {"project_id": pid, "files": [good, {**good, "name": "b", "size": 2}]},
        ["body", "files", 1, "size"],
    )
    response = await wl.client.post(
        "/v1/uploads",
        content=b'{"project_id": "',
        headers={**h, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "Invalid"
