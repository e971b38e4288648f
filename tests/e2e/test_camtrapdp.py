"""Camtrap DP in and out of a project, on the embedded backends and on the real ones."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.api import Site, bearer, ok, post_media
from tests.support.camtrapdp import EXAMPLE, error_types, validate, zip_folder
from tests.support.factories import Uploads
from tests.support.platform import RunningPlatform, eventually, user_token
from wildlens.common.settings import Settings

IMPORTS = "/v1/projects/{}/imports/camtrap-dp"
HERON = "62c200a9"
IDS = {"deployments": "deploymentID", "media": "mediaID", "observations": "observationID"}

# Packages are the catalogue's and uploads go through ingest; nothing here needs the rest.
pytestmark = pytest.mark.services("catalogue", "ingest")


def _rows(folder: Path, table: str) -> dict[str, dict[str, str]]:
    with (folder / f"{table}.csv").open(newline="", encoding="utf-8") as handle:
        return {row[IDS[table]]: row for row in csv.DictReader(handle)}


def _same(original: str, exported: str) -> bool:
    """Equal, allowing the one documented difference: numbers in their shortest form."""
    if original == exported:
        return True
    try:
        return float(original) == float(exported)
    except ValueError:
        return False


async def _new_project(wl: RunningPlatform, token: str) -> str:
    body = await ok(
        await wl.client.post("/v1/projects", json={"name": "MICA"}, headers=bearer(token)), 201
    )
    return str(body["id"])


async def _import(wl: RunningPlatform, token: str, pid: str, package: bytes) -> httpx.Response:
    return await wl.client.post(
        IMPORTS.format(pid),
        files={"files": ("package.zip", package, "application/zip")},
        headers=bearer(token),
    )


async def _download(wl: RunningPlatform, url: str) -> bytes:
    if url.startswith(wl.settings.public_url):
        # The platform's own signed route: reach it in-process, without a token.
        parts = urlsplit(url)
        response = await wl.client.get(f"{parts.path}?{parts.query}")
    else:
        async with httpx.AsyncClient() as outside:
            response = await outside.get(url)
    assert response.status_code == 200, response.text
    return response.content


async def _export(wl: RunningPlatform, token: str, pid: str) -> bytes:
    h = bearer(token)
    job = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/exports", json={"format": "camtrap-dp"}, headers=h
        ),
        202,
    )
    assert job["status"] in ("queued", "running")

    async def finished() -> dict[str, Any] | None:
        body = await ok(
            await wl.client.get(f"/v1/projects/{pid}/exports/{job['id']}", headers=h), 200
        )
        return body if body["status"] in ("done", "failed") else None

    done = await eventually(finished, timeout=60)
    assert done["status"] == "done", done["error"]
    assert done["progress"] == 1.0
    key = f"exports/{pid}/{job['id']}.zip"
    assert await wl.platform.store.exists(key)
    return await _download(wl, done["download_url"])


async def test_the_example_round_trips_losslessly(
    tmp_path: Path, wl: RunningPlatform, admin: str
) -> None:
    pid = await _new_project(wl, admin)
    summary = await ok(await _import(wl, admin, pid, zip_folder(EXAMPLE)), 200)
    assert summary["created"] == {
        "locations": 4,
        "devices": 4,
        "deployments": 4,
        "media": 423,
        "observations": 549,
    }
    assert summary["media_files_stored"] == 10

    # Again: upserted by Camtrap DP id, nothing duplicated.
    again = await ok(await _import(wl, admin, pid, zip_folder(EXAMPLE)), 200)
    assert again["created"] == {}
    assert again["updated"] == {"deployments": 4, "media": 423, "observations": 549}

    deployments = await ok(
        await wl.client.get(f"/v1/projects/{pid}/deployments", headers=bearer(admin)), 200
    )
    assert len(deployments["items"]) == 4
    # The camera clocks, from the offsets the package's timestamps carry.
    offsets = sorted(d["utc_offset"] for d in deployments["items"])
    assert offsets == ["+01:00", "+02:00", "+02:00", "+02:00"]

    # The ten heron images came inside the package and are stored by content.
    heron = EXAMPLE / "media" / "20210531082538-RCNX0031.JPG"
    sha = hashlib.sha256(heron.read_bytes()).hexdigest()
    assert await wl.platform.store.exists(f"media/{sha[:2]}/{sha}.jpg")

    exported = tmp_path / "export"
    with zipfile.ZipFile(io.BytesIO(await _export(wl, admin, pid))) as archive:
        archive.extractall(exported)

    report = validate(exported / "datapackage.json")
    assert report.valid, report.flatten(["type", "message"])[:10]
    assert (exported / "media" / heron.name).read_bytes() == heron.read_bytes()

    for table, key in IDS.items():
        original, roundtrip = _rows(EXAMPLE, table), _rows(exported, table)
        assert roundtrip.keys() == original.keys(), table
        for ident, row in original.items():
            for column, value in row.items():
                got = roundtrip[ident][column]
                if column == "exifData" and value:
                    # Kept as given (the example's is not quite JSON); JSON is re-serialised.
                    try:
                        assert json.loads(got) == json.loads(value)
                    except json.JSONDecodeError:
                        assert got == value
                    continue
                assert _same(value, got), (table, ident, column, value, got)
            assert key in row

    descriptor = json.loads((exported / "datapackage.json").read_text())
    original_descriptor = json.loads((EXAMPLE / "datapackage.json").read_text())
    for field in ("project", "contributors", "licenses", "taxonomic", "spatial", "temporal"):
        assert descriptor[field] == original_descriptor[field], field
    # The custom resource with inline data survives.
    assert [r["name"] for r in descriptor["resources"]] == [
        "deployments",
        "media",
        "observations",
        "individuals",
    ]


def _corrupt(folder: Path) -> None:
    media = (folder / "media.csv").read_text()
    # An unknown deployment and a bad enum.
    media = media.replace(
        "07840dcc,00a2c20d,activityDetection", "07840dcc,nosuchdep,activityDetection", 1
    )
    media = media.replace("401386c7,00a2c20d,activityDetection", "401386c7,00a2c20d,whenever", 1)
    (folder / "media.csv").write_text(media)
    observations = (folder / "observations.csv").read_text().splitlines()
    header = observations[0].split(",")
    bbox_x, count = header.index("bboxX"), header.index("count")
    for n, line in enumerate(observations[1:], start=1):
        cells = line.split(",")
        if len(cells) == len(header) and cells[bbox_x]:
            cells[bbox_x] = "1.5"
            observations[n] = ",".join(cells)
            break
    for n, line in enumerate(observations[1:], start=1):
        cells = line.split(",")
        if len(cells) == len(header) and cells[count] == "1":
            cells[count] = "0"
            observations[n] = ",".join(cells)
            break
    (folder / "observations.csv").write_text("\n".join(observations) + "\n")
    deployments = (folder / "deployments.csv").read_text()
    # A timestamp that cannot be placed in time.
    deployments = deployments.replace("2020-05-30T04:57:37+02:00", "2020-05-30T04:57:37", 1)
    (folder / "deployments.csv").write_text(deployments)


async def test_a_bad_package_is_refused_with_every_problem_and_nothing_imported(
    tmp_path: Path, wl: RunningPlatform, settings: Settings, admin: str
) -> None:
    package = tmp_path / "package"
    shutil.copytree(EXAMPLE, package)
    _corrupt(package)
    # The test's own validator agrees the package is broken.
    assert {"constraint-error", "foreign-key"} <= error_types(
        validate(package / "datapackage.json")
    )

    pid = await _new_project(wl, admin)
    response = await _import(wl, admin, pid, zip_folder(package))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "Invalid"
    problems = {(p["resource"], p.get("field"), p["type"]) for p in body["fields"]}
    assert ("media", "captureMethod", "constraint-error") in problems
    assert ("observations", "bboxX", "constraint-error") in problems
    assert ("observations", "count", "constraint-error") in problems
    assert any(r == "media" and t == "foreign-key" for r, _, t in problems)
    assert ("deployments", "deploymentStart", "camtrap-dp") in problems or any(
        r == "deployments" and f == "deploymentStart" for r, f, _ in problems
    )

    for table in ("deployments", "locations", "devices"):
        listed = await ok(
            await wl.client.get(f"/v1/projects/{pid}/{table}", headers=bearer(admin)), 200
        )
        assert listed["items"] == [], table
    project = await ok(await wl.client.get(f"/v1/projects/{pid}", headers=bearer(admin)), 200)
    assert project["id"] == pid

    # Only managers import; a viewer is told so.
    viewer = user_token(settings, "viewer", {pid: "viewer"})
    refused = await _import(wl, viewer, pid, zip_folder(EXAMPLE))
    assert refused.status_code == 403


async def test_uploads_to_an_imported_deployment_use_its_camera_clock(
    wl: RunningPlatform, admin: str, heron_images: list[Path], heron_timestamps: dict[str, datetime]
) -> None:
    h = bearer(admin)
    pid = await _new_project(wl, admin)
    # The package without its images: those arrive later from the camera's gateway.
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        for name in ("datapackage.json", "deployments.csv", "media.csv", "observations.csv"):
            archive.write(EXAMPLE / name, name)
    await ok(await _import(wl, admin, pid, package.getvalue()), 200)

    deployments = await ok(await wl.client.get(f"/v1/projects/{pid}/deployments", headers=h), 200)
    heron = next(d for d in deployments["items"] if d["utc_offset"] == "+01:00")
    issued = await ok(
        await wl.client.post(f"/v1/projects/{pid}/devices/{heron['device_id']}/token", headers=h),
        201,
    )
    image = heron_images[0]
    accepted = await ok(await post_media(wl.client, issued["token"], image), 202)

    async def recorded() -> dict[str, Any] | None:
        response = await wl.client.get(f"/v1/media/{accepted['media_id']}", headers=h)
        return response.json() if response.status_code == 200 else None

    media = await eventually(recorded)
    assert media["deployment_id"] == heron["id"]
    # EXIF local time read with the +01:00 clock the package's timestamps implied.
    assert datetime.fromisoformat(media["captured_at"]) == heron_timestamps[image.name]


async def test_a_project_built_from_uploads_exports_a_valid_package(
    heron_images: list[Path],
    tmp_path: Path,
    wl: RunningPlatform,
    admin: str,
    site: Site,
    upload: Uploads,
) -> None:
    accepted = await upload(heron_images[0])

    async def recorded() -> bool:
        response = await wl.client.get(f"/v1/media/{accepted['media_id']}", headers=bearer(admin))
        return response.status_code == 200

    await eventually(recorded)
    exported = tmp_path / "export"
    with zipfile.ZipFile(io.BytesIO(await _export(wl, admin, site.project_id))) as archive:
        archive.extractall(exported)

    report = validate(exported / "datapackage.json")
    assert report.valid, report.flatten(["type", "message"])[:10]
    (row,) = _rows(exported, "media").values()
    # Catalogue-made rows carry the catalogue's ids; the file travels in the package.
    assert row["mediaID"] == accepted["media_id"]
    assert row["deploymentID"] == site.deployment_id
    assert row["timestamp"] == "2021-04-11T20:43:09+01:00"
    assert (exported / row["filePath"]).read_bytes() == heron_images[0].read_bytes()
