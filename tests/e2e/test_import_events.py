"""Imports form events: a package's own sequences where it names them, the project's gap
elsewhere, on the embedded backends and on the real ones."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.platform import RunningPlatform, eventually

pytestmark = pytest.mark.services("catalogue", "ingest")

IMPORTS = "/v1/projects/{}/imports/{}"
# The example's first sequence: a mallard, ten photos 04:57:37 to 04:57:44 (+02:00).
MALLARD = "4bb69c45"


def _table(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _sequences(folder: Path) -> dict[str, set[str]]:
    """eventID → its media, as the package's media-level observations say."""
    found: dict[str, set[str]] = {}
    for row in _table(folder, "observations"):
        if row["mediaID"] and row["eventID"]:
            found.setdefault(row["eventID"], set()).add(row["mediaID"])
    return found


async def _project(wl: RunningPlatform, token: str) -> str:
    body = await ok(
        await wl.client.post("/v1/projects", json={"name": "MICA"}, headers=bearer(token)), 201
    )
    return str(body["id"])


async def _events(wl: RunningPlatform, token: str, pid: str) -> list[dict[str, Any]]:
    body = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/events", params={"limit": 1000}, headers=bearer(token)
        ),
        200,
    )
    items: list[dict[str, Any]] = body["items"]
    return items


async def _filenames(wl: RunningPlatform, token: str, pid: str, event_id: str) -> set[str]:
    body = await ok(
        await wl.client.get(f"/v1/projects/{pid}/events/{event_id}", headers=bearer(token)), 200
    )
    return {m["filename"] for m in body["media"]}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def _import_camtrapdp(wl: RunningPlatform, token: str, pid: str, folder: Path) -> None:
    await ok(
        await wl.client.post(
            IMPORTS.format(pid, "camtrap-dp"),
            files={"files": ("package.zip", zip_folder(folder), "application/zip")},
            headers=bearer(token),
        ),
        200,
    )


async def _export_observations(wl: RunningPlatform, token: str, pid: str) -> list[dict[str, str]]:
    h = bearer(token)
    job = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/exports", json={"format": "camtrap-dp"}, headers=h
        ),
        202,
    )

    async def finished() -> dict[str, Any] | None:
        body = await ok(
            await wl.client.get(f"/v1/projects/{pid}/exports/{job['id']}", headers=h), 200
        )
        return body if body["status"] in ("done", "failed") else None

    done = await eventually(finished, timeout=60)
    assert done["status"] == "done", done["error"]
    url = done["download_url"]
    if url.startswith(wl.settings.public_url):
        # The platform's own signed route: reach it in-process, without a token.
        parts = urlsplit(url)
        response = await wl.client.get(f"{parts.path}?{parts.query}")
    else:
        async with httpx.AsyncClient() as outside:
            response = await outside.get(url)
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        text = archive.read("observations.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


async def test_a_camtrap_dp_import_forms_the_package_sequences(
    wl: RunningPlatform, admin: str
) -> None:
    pid = await _project(wl, admin)
    await _import_camtrapdp(wl, admin, pid, EXAMPLE)

    sequences = _sequences(EXAMPLE)
    events = await _events(wl, admin, pid)
    # 34 sequences: three of 1 photo, 25 of 10, two of 20, three of 30, one of 40.
    assert len(events) == len(sequences) == 34
    assert Counter(e["media_count"] for e in events) == {1: 3, 10: 25, 20: 2, 30: 3, 40: 1}
    assert sum(e["media_count"] for e in events) == 423

    # Hand-checked in media.csv: the mallard's ten photos, RCNX0001 to RCNX0010.
    assert {f.split("-")[1] for f in _mallard_files()} == {f"RCNX{n:04}.JPG" for n in range(1, 11)}
    first = events[0]
    assert _utc(first["start"]) == datetime(2020, 5, 30, 2, 57, 37, tzinfo=UTC)
    assert _utc(first["end"]) == datetime(2020, 5, 30, 2, 57, 44, tzinfo=UTC)
    assert first["media_count"] == 10
    assert await _filenames(wl, admin, pid, first["id"]) == _mallard_files()

    # The sequence exports under the package's own eventID, every observation with its own.
    original = {r["observationID"]: r["eventID"] for r in _table(EXAMPLE, "observations")}
    exported = await _export_observations(wl, admin, pid)
    assert {r["observationID"]: r["eventID"] for r in exported} == original

    # Importing again keeps the events as they are.
    await _import_camtrapdp(wl, admin, pid, EXAMPLE)
    again = await _events(wl, admin, pid)
    assert [(e["id"], e["media_count"]) for e in again] == [
        (e["id"], e["media_count"]) for e in events
    ]


async def test_media_without_an_event_id_are_grouped_by_the_project_gap(
    tmp_path: Path, wl: RunningPlatform, admin: str
) -> None:
    # The mallard's sequence without its eventID: its photos are seconds apart, well inside
    # the project's 60 s gap, and an hour from the deployment's next photo.
    folder = tmp_path / "package"
    shutil.copytree(EXAMPLE, folder)
    rows = _table(folder, "observations")
    for row in rows:
        if row["eventID"] == MALLARD:
            row["eventID"] = ""
    with (folder / "observations.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    pid = await _project(wl, admin)
    await _import_camtrapdp(wl, admin, pid, folder)
    events = await _events(wl, admin, pid)
    assert len(events) == 34
    first = events[0]
    assert first["media_count"] == 10
    assert await _filenames(wl, admin, pid, first["id"]) == _mallard_files()

    # Its observations export under the event the gap formed.
    exported = await _export_observations(wl, admin, pid)
    mallard = {
        r["eventID"] for r in exported if r["observationID"].split("_")[0] in _mallard_media()
    }
    assert mallard == {first["id"]}


def _mallard_media() -> set[str]:
    return _sequences(EXAMPLE)[MALLARD]


def _mallard_files() -> set[str]:
    return {m["fileName"] for m in _table(EXAMPLE, "media") if m["mediaID"] in _mallard_media()}
