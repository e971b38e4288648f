"""Import jobs: large files PUT to the object store and imported by a worker, not in a request,
on the embedded and the real backends.

A job imports what the import route imports, leaves nothing behind (staged objects, scratch
space), fails a hostile archive with the problem named and nothing imported while /healthz
keeps answering, and is finished once by another catalogue when the one running it died.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_exchange_coco import new_project
from tests.e2e.test_hostile_input import HEALTH_GAP_S, nothing_stored
from tests.support.api import bearer, ok, put_signed
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.hostile import deflate_zeros, leftovers, raw_zip, watching_health, zip_of
from tests.support.platform import RunningPlatform, admin_token, eventually, running, user_token
from wildlens.catalogue.exchange.import_worker import ImportWorker
from wildlens.catalogue.models import ImportJob
from wildlens.common.db import create_database, utcnow

pytestmark = pytest.mark.services("catalogue")

JOBS = "/v1/projects/{}/import-jobs"
STAGING = "staging/imports/"
MiB = 1 << 20


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The temporary folder of this test's process (where jobs unpack), watched for what is
    left in it."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


async def _create(
    wl: RunningPlatform, token: str, pid: str, files: dict[str, bytes], fmt: str = "camtrap-dp"
) -> dict[str, Any]:
    body = {"format": fmt, "files": [{"name": n, "size": len(d)} for n, d in files.items()]}
    job = await ok(await wl.client.post(JOBS.format(pid), json=body, headers=bearer(token)), 201)
    assert job["status"] == "awaiting_files"
    for declared, data in zip(job["files"], files.values(), strict=True):
        await put_signed(wl.client, wl.settings.public_url, declared["upload_url"], data)
    return dict(job)


async def _start(wl: RunningPlatform, token: str, pid: str, job_id: str) -> httpx.Response:
    return await wl.client.post(f"{JOBS.format(pid)}/{job_id}/start", headers=bearer(token))


async def _finished(wl: RunningPlatform, token: str, pid: str, job_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        response = await wl.client.get(f"{JOBS.format(pid)}/{job_id}", headers=bearer(token))
        body = await ok(response, 200)
        return body if body["status"] in ("succeeded", "failed") else None

    return dict(await eventually(done, timeout=120))


async def _nothing_left(wl: RunningPlatform, scratch: Path) -> None:
    """No staged object and nothing in the scratch space (removed just after the job's
    status is written)."""

    async def clean() -> bool:
        return await wl.platform.store.list(STAGING) == [] and leftovers(scratch) == []

    assert await eventually(clean, timeout=10), (
        await wl.platform.store.list(STAGING),
        leftovers(scratch),
    )


async def _listing(wl: RunningPlatform, token: str, pid: str, what: str) -> list[dict[str, Any]]:
    page = await ok(
        await wl.client.get(f"/v1/projects/{pid}/{what}?limit=1000", headers=bearer(token)), 200
    )
    return list(page["items"])


async def test_a_package_imported_by_a_job_is_what_the_import_route_makes(
    wl: RunningPlatform, admin: str, scratch: Path
) -> None:
    package = zip_folder(EXAMPLE)
    by_route = await new_project(wl, admin, "By the route")
    expected = await ok(
        await wl.client.post(
            f"/v1/projects/{by_route}/imports/camtrap-dp",
            files={"files": ("package.zip", package, "application/zip")},
            headers=bearer(admin),
        ),
        200,
    )
    pid = await new_project(wl, admin, "By a job")
    job = await _create(wl, admin, pid, {"package.zip": package})
    started = await ok(await _start(wl, admin, pid, job["id"]), 202)
    assert started["status"] in ("queued", "running", "succeeded")
    assert all(f["upload_url"] is None for f in started["files"])

    done = await _finished(wl, admin, pid, job["id"])
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    assert (
        done["summary"]["created"]
        == expected["created"]
        == {
            "locations": 4,
            "devices": 4,
            "deployments": 4,
            "media": 423,
            "observations": 549,
        }
    )
    assert done["summary"]["media_files_stored"] == expected["media_files_stored"] == 10
    assert done["finished_at"] is not None
    for what, key in (("deployments", "external_id"), ("media", "external_id")):
        ours = {item.get(key) for item in await _listing(wl, admin, pid, what)}
        theirs = {item.get(key) for item in await _listing(wl, admin, by_route, what)}
        assert ours == theirs, what
    assert len(await _listing(wl, admin, pid, "observations")) == 549

    listed = await ok(await wl.client.get(JOBS.format(pid), headers=bearer(admin)), 200)
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    assert listed["items"][0]["status"] == "succeeded"
    # Started once, a job does not start again.
    again = await _start(wl, admin, pid, job["id"])
    assert again.status_code == 409, again.text
    await _nothing_left(wl, scratch)


async def test_hostile_archives_fail_the_job_and_leave_nothing(
    wl: RunningPlatform, admin: str, scratch: Path
) -> None:
    pid = await new_project(wl, admin, "Hostile jobs")
    cases: list[tuple[str, bytes, tuple[str, ...]]] = [
        (
            "an entry unpacking to a thousand times its size",
            raw_zip(deflate_zeros(64 * MiB)),
            ("WILDLENS_LIMITS__COMPRESSION_RATIO", "zip bomb"),
        ),
        (
            "ten thousand and one entries",
            zip_of({f"f{n}.csv": b"" for n in range(10_001)}),
            ("WILDLENS_LIMITS__ARCHIVE_ENTRIES", "10001 entries"),
        ),
        ("a path climbing out", zip_of({"../../escape.csv": b"x"}), ("outside",)),
    ]
    for case, archive, words in cases:
        async with watching_health(wl.client) as health:
            job = await _create(wl, admin, pid, {"package.zip": archive})
            await ok(await _start(wl, admin, pid, job["id"]), 202)
            done = await _finished(wl, admin, pid, job["id"])
        assert done["status"] == "failed", case
        assert done["summary"] is None, case
        for word in words:
            assert word.lower() in done["error"].lower(), (case, word, done["error"])
        assert health.statuses == {200}, (case, health)
        assert health.longest_gap_s < HEALTH_GAP_S, (case, health)
        await _nothing_left(wl, scratch)
        assert not (scratch.parent / "escape.csv").exists(), case
        await nothing_stored(wl, admin, pid)

    # A package with problems fails with every one of them listed, as the route's 422 does.
    broken = zip_of({"datapackage.json": b"{}"})
    job = await _create(wl, admin, pid, {"package.zip": broken})
    await ok(await _start(wl, admin, pid, job["id"]), 202)
    done = await _finished(wl, admin, pid, job["id"])
    assert done["status"] == "failed"
    assert "nothing was imported" in done["error"]
    assert done["problems"], done
    await nothing_stored(wl, admin, pid)
    await _nothing_left(wl, scratch)


async def test_an_import_job_request_is_checked(wl: RunningPlatform, admin: str) -> None:
    pid = await new_project(wl, admin, "Checked")
    h = bearer(admin)
    too_large = await wl.client.post(
        JOBS.format(pid),
        json={"format": "camtrap-dp", "files": [{"name": "big.zip", "size": 9 << 30}]},
        headers=h,
    )
    assert too_large.status_code == 413, too_large.text
    assert "WILDLENS_LIMITS__IMPORT_JOB_BYTES" in too_large.json()["detail"]
    json_too_large = await wl.client.post(
        JOBS.format(pid),
        json={"format": "coco", "files": [{"name": "coco.json", "size": 1 << 30}]},
        headers=h,
    )
    assert json_too_large.status_code == 413, json_too_large.text
    assert "WILDLENS_LIMITS__JSON_FILE_BYTES" in json_too_large.json()["detail"]
    climbing = await wl.client.post(
        JOBS.format(pid),
        json={"format": "camtrap-dp", "files": [{"name": "../x.csv", "size": 10}]},
        headers=h,
    )
    assert climbing.status_code == 422, climbing.text

    # Started before a file arrived, or with another size than declared.
    body = {
        "format": "camtrap-dp",
        "files": [{"name": "package.zip", "size": 100}, {"name": "media.csv", "size": 3}],
    }
    job = await ok(await wl.client.post(JOBS.format(pid), json=body, headers=h), 201)
    assert job["urls_expire_at"]
    missing = await _start(wl, admin, pid, job["id"])
    assert missing.status_code == 409, missing.text
    assert "'package.zip'" in missing.json()["detail"]
    assert "'media.csv'" in missing.json()["detail"]
    await put_signed(wl.client, wl.settings.public_url, job["files"][0]["upload_url"], b"x" * 100)
    await put_signed(wl.client, wl.settings.public_url, job["files"][1]["upload_url"], b"1234")
    differs = await _start(wl, admin, pid, job["id"])
    assert differs.status_code == 409, differs.text
    assert "'media.csv' has 4 bytes, not the 3 declared" in differs.json()["detail"]
    # Asked for again, the job hands out fresh URLs while it awaits its files.
    again = await ok(await wl.client.get(f"{JOBS.format(pid)}/{job['id']}", headers=h), 200)
    assert again["status"] == "awaiting_files"
    assert all(f["upload_url"] for f in again["files"])

    # Only the project's managers and admins see its jobs; other projects' do not.
    other = await new_project(wl, admin, "Other")
    await ok(
        await wl.client.put(
            f"/v1/projects/{other}/members/manager-elsewhere", json={"role": "manager"}, headers=h
        ),
        201,
    )
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/members/viewer-here", json={"role": "viewer"}, headers=h
        ),
        201,
    )
    elsewhere = bearer(user_token(wl.settings, "manager-elsewhere", {other: "manager"}))
    viewer = bearer(user_token(wl.settings, "viewer-here", {pid: "viewer"}))
    job_url = f"{JOBS.format(pid)}/{job['id']}"
    assert (await wl.client.get(job_url, headers=elsewhere)).status_code == 404
    assert (await wl.client.get(JOBS.format(pid), headers=elsewhere)).status_code == 404
    # Through its own project, the job of another is not found either.
    assert (
        await wl.client.get(f"{JOBS.format(other)}/{job['id']}", headers=elsewhere)
    ).status_code == 404
    assert (await wl.client.get(job_url, headers=viewer)).status_code == 403
    assert (await wl.client.post(f"{job_url}/start", headers=viewer)).status_code == 403
    assert (await wl.client.post(JOBS.format(pid), json=body, headers=viewer)).status_code == 403


async def test_a_job_never_started_expires_and_its_files_go(
    wl: RunningPlatform, admin: str
) -> None:
    pid = await new_project(wl, admin, "Expiring")
    job = await _create(wl, admin, pid, {"package.zip": b"not yet"})
    assert await wl.platform.store.list(STAGING) != []
    worker = wl.platform.contexts["catalogue"].runtime_part(ImportWorker)
    await worker.sweep(utcnow() + timedelta(hours=23))
    assert await wl.platform.store.list(STAGING) != []
    await worker.sweep(utcnow() + timedelta(days=1, minutes=1))
    state = await ok(
        await wl.client.get(f"{JOBS.format(pid)}/{job['id']}", headers=bearer(admin)), 200
    )
    assert state["status"] == "expired"
    assert "not started within a day" in state["error"]
    assert await wl.platform.store.list(STAGING) == []
    assert (await _start(wl, admin, pid, job["id"])).status_code == 409


async def test_a_job_whose_catalogue_died_is_finished_once_by_the_next(settings_for: Any) -> None:
    settings = settings_for()
    admin = admin_token(settings)
    async with running(settings, ["catalogue"]) as wl:
        pid = await new_project(wl, admin, "Taken over")
        job = await _create(wl, admin, pid, {"package.zip": zip_folder(EXAMPLE)})
    # As a catalogue that took the job and died would leave it: running, its lease lapsed.
    db = create_database(settings, "catalogue")
    try:
        async with db.transaction() as session:
            row = await session.get(ImportJob, uuid.UUID(job["id"]))
            assert row is not None
            row.status, row.attempts, row.lease_owner = "running", 1, "catalogue-that-died"
            row.lease_expires_at = utcnow() - timedelta(seconds=5)
            row.started_at = utcnow() - timedelta(minutes=1)
            session.add(row)
    finally:
        await db.dispose()

    async with running(settings, ["catalogue"]) as wl:
        done = await _finished(wl, admin, pid, job["id"])
        assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
        assert done["summary"]["created"]["observations"] == 549
        assert len(await _listing(wl, admin, pid, "observations")) == 549
        assert await wl.platform.store.list(STAGING) == []
    db = create_database(settings, "catalogue")
    try:
        async with db.transaction() as session:
            row = await session.get(ImportJob, uuid.UUID(job["id"]))
            assert row is not None
            assert (row.attempts, row.lease_owner) == (2, "")
    finally:
        await db.dispose()


async def test_a_package_sent_as_its_files_imports_by_a_job(
    wl: RunningPlatform, admin: str, scratch: Path
) -> None:
    pid = await new_project(wl, admin, "Loose files")
    files = {
        name: (EXAMPLE / name).read_bytes()
        for name in ("datapackage.json", "deployments.csv", "media.csv", "observations.csv")
    }
    job = await _create(wl, admin, pid, files)
    await ok(await _start(wl, admin, pid, job["id"]), 202)
    done = await _finished(wl, admin, pid, job["id"])
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    assert done["summary"]["created"]["observations"] == 549
    await _nothing_left(wl, scratch)
