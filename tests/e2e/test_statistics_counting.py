"""Each animal counted once, as an ecologist counts them by hand, on both backends.

A sequence (Camtrap DP's event) of one taxon is one record: its event-level observations say
how many animals it held; where it has none, the most counted in any one of its media does
(MaxN), never the sum over the frames the same animals walk through. The species
accumulation counts species: Aves, Ardea and Ardea cinerea are not three.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.test_statistics import _stat, _write
from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.platform import RunningPlatform

NORTH, SOUTH = "North pond", "South marsh"
MALLARD, FOX = "Anas platyrhynchos", "Vulpes vulpes"
RULE = "event-level where present, else MaxN over the sequence's media"

# Two cameras on UTC, out from 1 to 4 June 2021 (three trap-nights each).
DEPLOYMENTS = [("dep-a", "loc-n", NORTH), ("dep-b", "loc-s", SOUTH)]
# (event, deployment, time, [(medium, [(taxon, count), ...]), ...], [(taxon, count), ...]):
# each sequence's media with their media-level observations, and its event-level ones.
SEQUENCES: list[tuple[str, str, str, list[tuple[str, list[tuple[str, int]]]], list[Any]]] = [
    # Two mallards, said at event level and again on each of three frames: 2 animals.
    (
        "e1",
        "dep-a",
        "2021-06-01T10:00:00Z",
        [("m1a", [(MALLARD, 1)]), ("m1b", [(MALLARD, 2)]), ("m1c", [(MALLARD, 2)])],
        [(MALLARD, 2)],
    ),
    # A fox family on three frames, 1, 3 and 2 of them in view: MaxN 3, not 6.
    (
        "e2",
        "dep-a",
        "2021-06-01T14:00:00Z",
        [("m2a", [(FOX, 1)]), ("m2b", [(FOX, 3)]), ("m2c", [(FOX, 2)])],
        [],
    ),
    # An adult and a cub, one event-level row each, and a fox on two frames: 2 animals.
    (
        "e3",
        "dep-a",
        "2021-06-02T08:00:00Z",
        [("m3a", [(FOX, 1)]), ("m3b", [(FOX, 1)])],
        [(FOX, 1), (FOX, 1)],
    ),
    # A bird, a heron of the genus Ardea, then a grey heron, named at three ranks.
    ("e4", "dep-b", "2021-06-01T12:00:00Z", [("m4a", [("Aves", 1)])], []),
    ("e5", "dep-b", "2021-06-02T12:00:00Z", [("m5a", [])], [("Ardea", 1)]),
    (
        "e6",
        "dep-b",
        "2021-06-03T12:00:00Z",
        [("m6a", [("Ardea cinerea", 1)]), ("m6b", [("Ardea cinerea", 1)])],
        [],
    ),
]


def _at(start: str, seconds: int) -> str:
    # Frames two seconds apart; times are whole minutes plus a few seconds.
    return f"{start[:17]}{seconds:02d}Z"


def counting_package(folder: Path) -> bytes:
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
                "deploymentStart": "2021-06-01T00:00:00Z",
                "deploymentEnd": "2021-06-04T00:00:00Z",
                "cameraID": f"cam-{d}",
            }
            for d, loc, name in DEPLOYMENTS
        ],
    )
    media: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    for event, deployment, start, frames, event_level in SEQUENCES:
        end = _at(start, 2 * len(frames))
        common = {
            "deploymentID": deployment,
            "eventID": event,
            "eventStart": start,
            "eventEnd": end,
            "observationType": "animal",
            "classificationMethod": "human",
            "classifiedBy": "Survey team",
        }
        for n, (medium, seen) in enumerate(frames):
            at = _at(start, 2 * n)
            media.append(
                {
                    "mediaID": medium,
                    "deploymentID": deployment,
                    "captureMethod": "activityDetection",
                    "timestamp": at,
                    "filePath": f"https://example.org/counting/{medium}.jpg",
                    "filePublic": "true",
                    "fileName": f"{medium}.jpg",
                    "fileMediatype": "image/jpeg",
                }
            )
            for k, (taxon, count) in enumerate(seen):
                observations.append(
                    {
                        **common,
                        "observationID": f"{medium}-{k}",
                        "mediaID": medium,
                        "eventStart": at,
                        "eventEnd": at,
                        "observationLevel": "media",
                        "scientificName": taxon,
                        "count": count,
                    }
                )
        for k, (taxon, count) in enumerate(event_level):
            observations.append(
                {
                    **common,
                    "observationID": f"{event}-{k}",
                    "observationLevel": "event",
                    "scientificName": taxon,
                    "count": count,
                }
            )
    _write(folder, "media", media)
    _write(folder, "observations", observations)
    return zip_folder(folder)


async def _import(wl: RunningPlatform, token: str, package: bytes) -> str:
    h = bearer(token)
    project = await ok(await wl.client.post("/v1/projects", json={"name": "Count"}, headers=h), 201)
    pid: str = project["id"]
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/imports/camtrap-dp",
            files={"files": ("package.zip", package, "application/zip")},
            headers=h,
        ),
        200,
    )
    return pid


def _counts(body: dict[str, Any]) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {
        (r["taxon"], r["location_name"]): (
            r["independent_detections"],
            r["records"],
            r["individuals"],
        )
        for r in body["rows"]
    }


async def test_each_animal_counts_once_per_sequence(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin)
    pid = await _import(wl, admin, counting_package(tmp_path / "pkg"))

    # Counted by hand: the mallards are 2 (the event says so), not 2 + 1 + 2 + 2; the fox
    # family 3 (MaxN), then 2 (the event's two rows); each sequence one record. The birds
    # named at coarser ranks are reported at the rank they were named at.
    counts = await _stat(wl, admin, pid, "counts")
    assert _counts(counts) == {
        (MALLARD, NORTH): (1, 1, 2),
        (FOX, NORTH): (2, 2, 5),
        ("Aves", SOUTH): (1, 1, 1),
        ("Ardea", SOUTH): (1, 1, 1),
        ("Ardea cinerea", SOUTH): (1, 1, 1),
    }
    # The same over a period of whole days (which the detection records answer).
    season = await _stat(
        wl,
        admin,
        pid,
        "counts",
        captured_from="2021-06-01T00:00:00Z",
        captured_to="2021-06-02T00:00:00Z",
    )
    assert _counts(season)[FOX, NORTH] == (1, 1, 3)
    assert _counts(season)[MALLARD, NORTH] == (1, 1, 2)

    assert counts["counting_rule"] == RULE
    for name in ("relative-abundance", "activity"):
        assert (await _stat(wl, admin, pid, name))["counting_rule"] == RULE
    rate = await _stat(wl, admin, pid, "detection-rate")
    assert "each medium once" in rate["counting_rule"]


async def test_species_accumulation_counts_species_not_ranks(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin)
    pid = await _import(wl, admin, counting_package(tmp_path / "pkg"))

    # Day 1: a mallard, a fox and a bird (the bird may be the mallard: Aves adds nothing).
    # Day 2: a heron of the genus Ardea (a bird no mallard is): 3. Day 3: a grey heron, an
    # Ardea: still 3, not 5.
    curve = await _stat(wl, admin, pid, "species-accumulation")
    rows = curve["rows"]
    assert [r["date"] for r in rows] == ["2021-06-01", "2021-06-02", "2021-06-03"]
    assert [r["species"] for r in rows] == [2, 3, 3]
    assert [r["new_taxa"] for r in rows] == [f"{MALLARD}; {FOX}", "Ardea", "Ardea cinerea"]
    assert "below it" in curve["counting_rule"]


async def test_the_official_example_counts_its_mallards_once(
    wl: RunningPlatform, admin: str
) -> None:
    pid = await _import(wl, admin, zip_folder(EXAMPLE))

    # At the small pond the example has six mallard sequences, each with event-level
    # observations (2, 2, 2, 5, 3 and 3 birds) and 80 media-level ones besides: 6 records
    # and 17 birds, not 86 and 209. At the procession park, six sequences of 1, 2, 1 + 9,
    # 4, 1 + 1 and 3 + 1 birds: 6 records and 23 birds, not 136 and 268.
    rows = {
        r["location_name"]: r
        for r in (await _stat(wl, admin, pid, "counts"))["rows"]
        if r["taxon"] == MALLARD
    }
    pond, park = rows["B_DL_val 5_beek kleine vijver"], rows["B_HS_val 2_processiepark"]
    assert (pond["records"], pond["individuals"]) == (6, 17)
    assert (park["records"], park["individuals"]) == (6, 23)
