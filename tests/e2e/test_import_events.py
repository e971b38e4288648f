"""Imports form events: a package's own sequences where it names them, the project's gap
elsewhere, on the embedded backends and on the real ones."""

from __future__ import annotations

import csv
import io
import json
import shutil
import uuid
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import delete, update
from sqlmodel import col, select

from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.platform import RunningPlatform, eventually
from wildlens.catalogue.models import Media, Sequence

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

    # A longer gap regroups what the gap formed, never the package's own sequences.
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}", json={"event_gap_s": 86400}, headers=bearer(admin)
        ),
        200,
    )
    regrouped = await _events(wl, admin, pid)
    assert [(e["id"], e["media_count"]) for e in regrouped] == [
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


def _coco(images: list[tuple[str, str, str | None]]) -> dict[str, Any]:
    """A COCO Camera Traps file of (file name, time, seq_id) at one pond, each image with a
    heron on it."""
    return {
        "info": {"version": "1.0", "description": "pond"},
        "images": [
            {
                "id": name,
                "file_name": name,
                "location": "pond",
                "datetime": taken,
                "latitude": 50.1,
                "longitude": 4.2,
                **({"seq_id": seq} if seq else {}),
            }
            for name, taken, seq in images
        ],
        "categories": [{"id": 0, "name": "empty"}, {"id": 1, "name": "Ardea cinerea"}],
        "annotations": [
            {"id": f"a-{name}", "image_id": name, "category_id": 1} for name, _, _ in images
        ],
    }


async def _import_file(
    wl: RunningPlatform, token: str, pid: str, fmt: str, document: Any
) -> dict[str, Any]:
    body: dict[str, Any] = await ok(
        await wl.client.post(
            IMPORTS.format(pid, fmt),
            files={"file": (f"{fmt}.json", json.dumps(document).encode(), "application/json")},
            headers=bearer(token),
        ),
        200,
    )
    return body


async def test_a_coco_import_forms_its_sequences_and_groups_the_rest_by_the_gap(
    wl: RunningPlatform, admin: str
) -> None:
    # Two sequences two seconds apart (the gap alone would merge them), then two images half
    # a minute apart without a seq_id (one event by the 60 s gap) and a lone one hours later.
    document = _coco(
        [
            ("s1-a.jpg", "2021-04-01 10:00:00", "s1"),
            ("s1-b.jpg", "2021-04-01 10:00:02", "s1"),
            ("s1-c.jpg", "2021-04-01 10:00:04", "s1"),
            ("s2-a.jpg", "2021-04-01 10:00:06", "s2"),
            ("s2-b.jpg", "2021-04-01 10:00:08", "s2"),
            ("x.jpg", "2021-04-01 12:00:00", None),
            ("y.jpg", "2021-04-01 12:00:30", None),
            ("z.jpg", "2021-04-01 15:00:00", None),
        ]
    )
    pid = await _project(wl, admin)
    await _import_file(wl, admin, pid, "coco", document)
    events = await _events(wl, admin, pid)
    assert [e["media_count"] for e in events] == [3, 2, 2, 1]
    contents = [await _filenames(wl, admin, pid, e["id"]) for e in events]
    assert contents == [
        {"s1-a.jpg", "s1-b.jpg", "s1-c.jpg"},
        {"s2-a.jpg", "s2-b.jpg"},
        {"x.jpg", "y.jpg"},
        {"z.jpg"},
    ]
    # Every event's media agree on the heron.
    assert all(e["label"]["scientific_name"] == "Ardea cinerea" for e in events)

    # Importing the file again keeps the events.
    await _import_file(wl, admin, pid, "coco", document)
    assert [e["id"] for e in await _events(wl, admin, pid)] == [e["id"] for e in events]


async def test_megadetector_results_group_media_in_no_event_by_the_gap(
    wl: RunningPlatform, admin: str
) -> None:
    names = ["m1.jpg", "m2.jpg", "m3.jpg"]
    times = ["2021-04-01 10:00:00", "2021-04-01 10:00:30", "2021-04-01 11:00:00"]
    pid = await _project(wl, admin)
    await _import_file(
        wl, admin, pid, "coco", _coco([(n, t, None) for n, t in zip(names, times, strict=True)])
    )
    # Media recorded before imports formed events: in a deployment, timed, in no event.
    ctx = wl.platform.contexts["catalogue"]
    async with ctx.db.transaction() as session:
        project_id = uuid.UUID(pid)
        await session.exec(
            update(Media).where(col(Media.project_id) == project_id).values(event_id=None)
        )
        await session.exec(delete(Sequence).where(col(Sequence.project_id) == project_id))
    assert await _events(wl, admin, pid) == []

    document = {
        "info": {"format_version": "1.4", "detector": "md_v5a.0.0.pt"},
        "detection_categories": {"1": "animal"},
        "images": [
            {"file": name, "detections": [{"category": "1", "conf": 0.9, "bbox": [0, 0, 1, 1]}]}
            for name in names
        ],
    }
    await _import_file(wl, admin, pid, "megadetector", document)
    events = await _events(wl, admin, pid)
    assert [e["media_count"] for e in events] == [2, 1]
    assert [await _filenames(wl, admin, pid, e["id"]) for e in events] == [
        {"m1.jpg", "m2.jpg"},
        {"m3.jpg"},
    ]


async def test_kso_movies_form_events_by_the_gap(wl: RunningPlatform, admin: str) -> None:
    # Two movies of one site 30 s apart (one event by the 60 s gap), a third a day later.
    sites = (
        "site_id,siteName,decimalLatitude,decimalLongitude,geodeticDatum,countryCode\n"
        "1,KVF_2,58.8779,11.0964,WGS84,SE\n"
    )
    movies = (
        "movie_id,filename,created_on,fps,duration,sampling_start,sampling_end,author,site_id\n"
        "1,a.mp4,2019-06-04 10:11:00,25,30,0,30,Jannes,1\n"
        "2,b.mp4,2019-06-04 10:11:30,25,30,0,30,Jannes,1\n"
        "3,c.mp4,2019-06-05 10:11:00,25,30,0,30,Jannes,1\n"
    )
    species = (
        "species_id,commonName,scientificName,taxonRank,kingdom\n"
        "1,Cod,Gadus morhua,species,Animalia\n"
    )
    pid = await _project(wl, admin)
    tables = {"sites": sites, "movies": movies, "species": species}
    files = [("files", (f"{n}_koster.csv", t.encode(), "text/csv")) for n, t in tables.items()]
    await ok(
        await wl.client.post(
            IMPORTS.format(pid, "kso"),
            files=files,
            data={"utc_offset": "+02:00"},
            headers=bearer(admin),
        ),
        200,
    )
    events = await _events(wl, admin, pid)
    assert [e["media_count"] for e in events] == [2, 1]
    assert [await _filenames(wl, admin, pid, e["id"]) for e in events] == [
        {"a.mp4", "b.mp4"},
        {"c.mp4"},
    ]


async def test_a_package_classified_by_event_only_puts_each_event_s_media_in_it(
    tmp_path: Path, wl: RunningPlatform, admin: str
) -> None:
    # Camtrap DP 1.0 media carry no eventID: without media-level observations, only the
    # event-level observation's span (at its deployment) says which photos it covers.
    folder = tmp_path / "package"
    shutil.copytree(EXAMPLE, folder)
    rows = [r for r in _table(folder, "observations") if r["observationLevel"] == "event"]
    with (folder / "observations.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    pid = await _project(wl, admin)
    await _import_camtrapdp(wl, admin, pid, folder)

    ctx = wl.platform.contexts["catalogue"]
    async with ctx.db.transaction() as session:
        (mallard,) = await session.exec(
            select(Sequence).where(
                Sequence.project_id == uuid.UUID(pid), Sequence.external_id == MALLARD
            )
        )
        members = await session.exec(select(Media.filename).where(Media.event_id == mallard.id))
        assert set(members) == _mallard_files()
        named = await session.exec(
            select(Sequence.external_id).where(Sequence.project_id == uuid.UUID(pid))
        )
        # Every event the observations name, and each once.
        assert {e for e in named if e} == {r["eventID"] for r in rows}
