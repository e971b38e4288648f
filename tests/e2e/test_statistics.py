"""Project statistics as an ecologist checks them by hand: a small survey imported as a Camtrap
DP package (two cameras with known spans, known records), then counts, relative abundance per
100 trap-nights, activity by local hour, detection rate and species accumulation, as JSON, CSV
and PNG, on the embedded and the real backends."""

from __future__ import annotations

import csv
import io
import json
import struct
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.platform import RunningPlatform, user_token
from wildlens.common.settings import Settings

NORTH, SOUTH = "North pond", "South marsh"
FOX, HERON, MARTEN, BADGER = "Vulpes vulpes", "Ardea cinerea", "Martes foina", "Meles meles"

# Camera A at the North pond, clock on +02:00, out for exactly 10 days; camera B at the South
# marsh, clock on +01:00, out for exactly 5 days (times as the cameras' clocks wrote them).
DEPLOYMENTS = [
    ("dep-a", "loc-n", NORTH, "2021-06-01T02:00:00+02:00", "2021-06-11T02:00:00+02:00"),
    ("dep-b", "loc-s", SOUTH, "2021-06-01T01:00:00+01:00", "2021-06-06T01:00:00+01:00"),
]
# (media id, deployment, local capture time, observation type, taxon, count, method)
RECORDS = [
    ("a1", "dep-a", "2021-06-01T22:00:00+02:00", "animal", FOX, 1, "human"),
    # 10 minutes after a1: the same visit.
    ("a2", "dep-a", "2021-06-01T22:10:00+02:00", "animal", FOX, 1, "human"),
    # 50 minutes after a2: a new detection with 30 minutes' independence, not with 60.
    ("a3", "dep-a", "2021-06-01T23:00:00+02:00", "animal", FOX, 1, "human"),
    ("a4", "dep-a", "2021-06-03T06:30:00+02:00", "animal", HERON, 2, "human"),
    ("a5", "dep-a", "2021-06-05T12:00:00+02:00", "blank", "", None, "human"),
    ("a6", "dep-a", "2021-06-08T21:15:00+02:00", "animal", MARTEN, 1, "machine"),
    ("b1", "dep-b", "2021-06-02T05:00:00+01:00", "animal", HERON, 1, "human"),
    ("b2", "dep-b", "2021-06-04T22:45:00+01:00", "animal", FOX, 1, "human"),
    ("b3", "dep-b", "2021-06-04T23:30:00+01:00", "blank", "", None, "human"),
    # A person corrected the machine here (see CORRECTED): one badger, no fox.
    ("b4", "dep-b", "2021-06-05T03:00:00+01:00", "animal", BADGER, 1, "human"),
]
# The machine's label a person's label outranks on the same image.
CORRECTED = [("b4", "dep-b", "2021-06-05T03:00:00+01:00", "animal", FOX, 1, "machine")]


def _header(table: str) -> list[str]:
    with (EXAMPLE / f"{table}.csv").open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def _write(folder: Path, table: str, rows: list[dict[str, Any]]) -> None:
    with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=_header(table), restval="")
        writer.writeheader()
        writer.writerows(rows)


def survey_package(folder: Path) -> bytes:
    """The survey as the Camtrap DP package a user would upload."""
    folder.mkdir()
    descriptor = json.loads((EXAMPLE / "datapackage.json").read_text(encoding="utf-8"))
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    _write(
        folder,
        "deployments",
        [
            {
                "deploymentID": d,
                "locationID": loc,
                "locationName": name,
                "latitude": 51.2,
                "longitude": 4.4,
                "deploymentStart": start,
                "deploymentEnd": end,
                "cameraID": f"cam-{d}",
            }
            for d, loc, name, start, end in DEPLOYMENTS
        ],
    )
    _write(
        folder,
        "media",
        [
            {
                "mediaID": m,
                "deploymentID": d,
                "captureMethod": "activityDetection",
                "timestamp": at,
                "filePath": f"https://example.org/survey/{m}.jpg",
                "filePublic": "true",
                "fileName": f"{m}.jpg",
                "fileMediatype": "image/jpeg",
            }
            for m, d, at, *_ in RECORDS
        ],
    )
    _write(
        folder,
        "observations",
        [
            {
                "observationID": f"{m}-{n}",
                "deploymentID": d,
                "mediaID": m,
                "eventStart": at,
                "eventEnd": at,
                "observationLevel": "media",
                "observationType": kind,
                "scientificName": taxon,
                "count": "" if count is None else count,
                "classificationMethod": method,
                "classifiedBy": "Survey team" if method == "human" else "detector 1.0",
            }
            for n, records in ((1, RECORDS), (2, CORRECTED))
            for m, d, at, kind, taxon, count, method in records
        ],
    )
    return zip_folder(folder)


async def _survey(wl: RunningPlatform, token: str, tmp_path: Path) -> dict[str, str]:
    """A project holding the survey; answers its id and the location ids by name."""
    h = bearer(token)
    project = await ok(await wl.client.post("/v1/projects", json={"name": "Ponds"}, headers=h), 201)
    pid = project["id"]
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/imports/camtrap-dp",
            files={"files": ("survey.zip", survey_package(tmp_path / "pkg"), "application/zip")},
            headers=h,
        ),
        200,
    )
    locations = await ok(await wl.client.get(f"/v1/projects/{pid}/locations", headers=h), 200)
    deployments = await ok(await wl.client.get(f"/v1/projects/{pid}/deployments", headers=h), 200)
    ids = {"project": pid, **{loc["name"]: loc["id"] for loc in locations["items"]}}
    for d in deployments["items"]:
        ids["dep-a" if d["location_id"] == ids[NORTH] else "dep-b"] = d["id"]
    return ids


async def _stat(wl: RunningPlatform, token: str, pid: str, name: str, **params: Any) -> Any:
    body = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/statistics/{name}", params=params, headers=bearer(token)
        ),
        200,
    )
    return body


def _by(rows: list[dict[str, Any]], *keys: str) -> dict[Any, dict[str, Any]]:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


async def test_statistics_match_the_survey_counted_by_hand(
    wl: RunningPlatform, settings: Settings, admin: str, tmp_path: Path
) -> None:
    taxa = await import_tree(wl.client, admin)
    ids = await _survey(wl, admin, tmp_path)
    pid, north, south = ids["project"], ids[NORTH], ids[SOUTH]
    viewer = user_token(settings, "viewer", {pid: "viewer"})

    # Counts: fox a1-a2 are one visit (10 minutes apart), a3 another; the heron at the
    # North pond was two birds; on b4 the person's badger counts, not the machine's fox.
    # Viewers may read statistics.
    counts = await _stat(wl, viewer, pid, "counts")
    assert counts["scope"]["independence_interval_s"] == 1800
    got = {
        (r["taxon"], r["location_name"]): (
            r["independent_detections"],
            r["records"],
            r["individuals"],
        )
        for r in counts["rows"]
    }
    assert got == {
        (FOX, NORTH): (2, 3, 3),
        (FOX, SOUTH): (1, 1, 1),
        (HERON, NORTH): (1, 1, 2),
        (HERON, SOUTH): (1, 1, 1),
        (MARTEN, NORTH): (1, 1, 1),
        (BADGER, SOUTH): (1, 1, 1),
    }
    # With a 60-minute independence interval the three fox records are one visit.
    hourly = await _stat(wl, admin, pid, "counts", independence_interval_s=3600)
    assert _by(hourly["rows"], "taxon", "location_name")[FOX, NORTH]["independent_detections"] == 1

    # RAI: 10 trap-nights at the North pond, 5 at the South marsh, 15 in all.
    rai = _by((await _stat(wl, admin, pid, "relative-abundance"))["rows"], "taxon", "location_name")
    assert rai[FOX, NORTH]["trap_nights"] == pytest.approx(10)
    assert rai[FOX, SOUTH]["trap_nights"] == pytest.approx(5)
    assert rai[FOX, NORTH]["rai"] == pytest.approx(20)
    assert rai[FOX, SOUTH]["rai"] == pytest.approx(20)
    assert rai[FOX, "all locations"]["rai"] == pytest.approx(20)
    assert rai[HERON, SOUTH]["rai"] == pytest.approx(20)
    assert rai[HERON, "all locations"]["rai"] == pytest.approx(200 / 15)
    # Not seen at the South marsh over 5 trap-nights is a result too.
    assert rai[MARTEN, SOUTH]["independent_detections"] == 0
    assert rai[MARTEN, SOUTH]["rai"] == 0
    assert rai[MARTEN, "all locations"]["rai"] == pytest.approx(100 / 15)
    assert rai[BADGER, SOUTH]["rai"] == pytest.approx(20)

    # Clipped to the first two days: 2 trap-nights at each location, and only a1-a3 and
    # the South heron fall inside.
    early = _by(
        (
            await _stat(
                wl,
                admin,
                pid,
                "relative-abundance",
                captured_from="2021-06-01T00:00:00Z",
                captured_to="2021-06-03T00:00:00Z",
            )
        )["rows"],
        "taxon",
        "location_name",
    )
    assert set(early) == {
        (FOX, NORTH),
        (FOX, SOUTH),
        (FOX, "all locations"),
        (HERON, NORTH),
        (HERON, SOUTH),
        (HERON, "all locations"),
    }
    assert early[FOX, NORTH]["trap_nights"] == pytest.approx(2)
    assert early[FOX, NORTH]["rai"] == pytest.approx(100)
    assert early[HERON, SOUTH]["rai"] == pytest.approx(50)
    assert early[HERON, NORTH]["rai"] == 0

    # Activity in each camera's local time: foxes at 22:00 (North, +02:00), 23:00 (North)
    # and 22:45 (South, +01:00); herons at 06:30 and 05:00; the marten at 21:15, the badger
    # at 03:00.
    activity = await _stat(wl, admin, pid, "activity")
    hours: dict[str, list[int]] = {}
    for r in activity["rows"]:
        hours.setdefault(r["taxon"], [0] * 24)[r["hour"]] = r["independent_detections"]
    assert {t: {h: n for h, n in enumerate(v) if n} for t, v in hours.items()} == {
        FOX: {22: 2, 23: 1},
        HERON: {5: 1, 6: 1},
        MARTEN: {21: 1},
        BADGER: {3: 1},
    }
    assert all(len(v) == 24 for v in hours.values())

    # Detection rate: 5 of camera A's 6 media show an animal, 3 of camera B's 4.
    rate = _by((await _stat(wl, admin, pid, "detection-rate"))["rows"], "location_name")
    assert (rate[NORTH]["media"], rate[NORTH]["media_with_animal"]) == (6, 5)
    assert rate[NORTH]["detection_rate"] == pytest.approx(5 / 6)
    assert rate[SOUTH]["detection_rate"] == pytest.approx(3 / 4)

    # Only what a person classified: the machine's marten drops out everywhere.
    verified = await _stat(wl, admin, pid, "counts", verified_only="true")
    assert MARTEN not in {r["taxon"] for r in verified["rows"]}
    verified_rate = _by(
        (await _stat(wl, admin, pid, "detection-rate", verified_only="true"))["rows"],
        "location_name",
    )
    assert verified_rate[NORTH]["media_with_animal"] == 4

    # Species accumulation, one point per day: both cameras add a trap-night a day until
    # camera B comes in after day 5; the fox on day 1, the heron on day 2, the badger on
    # day 5, the marten on day 8.
    curve = (await _stat(wl, admin, pid, "species-accumulation"))["rows"]
    assert [r["date"] for r in curve] == [f"2021-06-{d:02d}" for d in range(1, 11)]
    assert [round(r["trap_nights"], 6) for r in curve] == [
        2,
        4,
        6,
        8,
        10,
        11,
        12,
        13,
        14,
        15,
    ]
    assert [r["species"] for r in curve] == [1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert curve[4]["new_taxa"] == BADGER
    assert curve[7]["new_taxa"] == MARTEN

    # Filters: a taxon with what is below it (Aves → the heron), one location, one
    # deployment.
    birds = await _stat(wl, admin, pid, "counts", taxon_id=taxa["Aves"])
    assert {r["taxon"] for r in birds["rows"]} == {HERON}
    south_only = await _stat(wl, admin, pid, "counts", location_id=south)
    assert {r["location_id"] for r in south_only["rows"]} == {south}
    camera_a = await _stat(wl, admin, pid, "detection-rate", deployment_id=ids["dep-a"])
    assert [r["location_id"] for r in camera_a["rows"]] == [north]


async def test_csv_and_png_say_the_same_as_json(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    ids = await _survey(wl, admin, tmp_path)
    pid = ids["project"]
    url = f"/v1/projects/{pid}/statistics/relative-abundance"

    as_json = await _stat(wl, admin, pid, "relative-abundance")
    response = await wl.client.get(url, params={"format": "csv"}, headers=bearer(admin))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(as_json["rows"])
    for row, expected in zip(rows, as_json["rows"], strict=True):
        assert row["taxon"] == expected["taxon"]
        assert row["location_name"] == expected["location_name"]
        assert float(row["rai"]) == pytest.approx(expected["rai"])

    # Accept negotiation picks the chart; the PNG is a real image of a chart.
    for name in ("counts", "relative-abundance", "activity", "detection-rate"):
        chart = await wl.client.get(
            f"/v1/projects/{pid}/statistics/{name}",
            headers={**bearer(admin), "Accept": "image/png"},
        )
        assert chart.status_code == 200, chart.text
        assert chart.headers["content-type"] == "image/png"
        assert chart.content[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", chart.content[16:24])
        # A page wide; a caption under the chart makes it taller than the chart alone.
        assert width == 800
        assert 500 <= height <= 800
        image = Image.open(io.BytesIO(chart.content)).convert("RGB")
        # Something is drawn: far more colours than a background and a frame.
        colours = image.getcolors(maxcolors=1 << 20)
        assert colours is not None
        assert len(colours) > 20

    curve = await wl.client.get(
        f"/v1/projects/{pid}/statistics/species-accumulation",
        params={"format": "png"},
        headers=bearer(admin),
    )
    assert curve.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(curve.content)).format == "PNG"


async def test_statistics_refuse_bad_requests_and_outsiders(
    wl: RunningPlatform, settings: Settings, admin: str, tmp_path: Path
) -> None:
    ids = await _survey(wl, admin, tmp_path)
    pid = ids["project"]
    h = bearer(admin)
    base = f"/v1/projects/{pid}/statistics"

    unknown = await wl.client.get(f"{base}/diversity", headers=h)
    assert unknown.status_code == 422
    backwards = await wl.client.get(
        f"{base}/counts",
        params={
            "captured_from": "2021-06-05T00:00:00Z",
            "captured_to": "2021-06-01T00:00:00Z",
        },
        headers=h,
    )
    assert backwards.status_code == 422
    assert "captured_to" in backwards.json()["detail"]
    stranger = str(uuid.uuid4())
    missing = await wl.client.get(f"{base}/counts", params={"location_id": stranger}, headers=h)
    assert missing.status_code == 422
    assert stranger in missing.json()["detail"]
    negative = await wl.client.get(
        f"{base}/counts", params={"independence_interval_s": -5}, headers=h
    )
    assert negative.status_code == 422
    bad_format = await wl.client.get(f"{base}/counts", params={"format": "xlsx"}, headers=h)
    assert bad_format.status_code == 422

    # Another project's locations are not this project's, and outsiders see nothing.
    other = await ok(await wl.client.post("/v1/projects", json={"name": "Other"}, headers=h), 201)
    foreign = await wl.client.get(
        f"/v1/projects/{other['id']}/statistics/counts",
        params={"location_id": ids[NORTH]},
        headers=h,
    )
    assert foreign.status_code == 422
    outsider = user_token(settings, "outsider", {other["id"]: "admin"})
    hidden = await wl.client.get(f"{base}/counts", headers=bearer(outsider))
    assert hidden.status_code == 404
