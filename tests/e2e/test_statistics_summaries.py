"""Statistics stay right as a survey changes under them, on both backends.

Detections are counted from the maintained detection records where they answer the scope,
else from records made from the observations; the detection rate over whole minutes is
answered from per-minute summaries, else from the media. Both sources must give the same
numbers for every scope: after the import, and after each kind of change a user makes
(verifying, correcting, discarding, deleting media and deployments, correcting a camera's
clock offset), and the API must show each change.
"""

from __future__ import annotations

import csv
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok, post_media
from tests.support.bad_files import small_jpeg
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.platform import RunningPlatform, eventually, get_media
from tests.support.statistics import records_agree
from wildlens.catalogue.statistics.params import Scope
from wildlens.catalogue.statistics.repository import records, summary_queries

STATISTICS = ["counts", "relative-abundance", "activity", "detection-rate", "species-accumulation"]
# Some in the taxon tree (see test_taxa.TAXA_CSV), one known by name only.
SPECIES = ["Ardea cinerea", "Ardea alba", "Anas platyrhynchos", "Vulpes vulpes"]
START = datetime(2021, 6, 1, tzinfo=UTC)
# (deployment, location, clock offset): two cameras share the first station.
CAMERAS = [("dep-1", "loc-1", "+02:00"), ("dep-2", "loc-1", "+01:00"), ("dep-3", "loc-2", "+00:00")]


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _rows(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Media and observations of animal visits: bursts on whole seconds that cross minute
    boundaries, people's labels beside (and disagreeing with) the machine's, blanks, two
    species on one image, and event-level observations."""
    media: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []

    def observe(media_id: str, deployment: str, at: datetime, **fields: Any) -> None:
        observations.append(
            {
                "observationID": f"o{len(observations)}",
                "deploymentID": deployment,
                "mediaID": media_id,
                "eventStart": _iso(at),
                "eventEnd": _iso(at),
                "observationLevel": "media" if media_id else "event",
                **fields,
            }
        )

    for visit in range(50):
        deployment = rng.choice(CAMERAS)[0]
        species = rng.choice(SPECIES)
        at = START + timedelta(seconds=rng.randrange(6 * 86400))
        for _ in range(rng.randint(1, 3)):
            at += timedelta(seconds=rng.choice([1, 2, 30, 59, 61, 600, 1900, 4000]))
            media_id = f"m{len(media)}"
            media.append(
                {
                    "mediaID": media_id,
                    "deploymentID": deployment,
                    "captureMethod": "activityDetection",
                    "timestamp": _iso(at),
                    "filePath": f"https://example.org/{media_id}.jpg",
                    "filePublic": "true",
                    "fileName": f"{media_id}.jpg",
                    "fileMediatype": "image/jpeg",
                }
            )
            if rng.random() < 0.1:
                observe(media_id, deployment, at, observationType="blank")
                continue
            machine = {"classificationMethod": "machine", "classifiedBy": "detector 1.0"}
            observe(
                media_id,
                deployment,
                at,
                observationType="animal",
                scientificName=species,
                count=rng.randint(1, 2),
                **machine,
            )
            if rng.random() < 0.15:
                observe(
                    media_id,
                    deployment,
                    at,
                    observationType="animal",
                    scientificName=rng.choice(SPECIES),
                    **machine,
                )
            if rng.random() < 0.25:
                observe(
                    media_id,
                    deployment,
                    at,
                    observationType="animal",
                    scientificName=rng.choice(SPECIES),
                    count=1,
                    classificationMethod="human",
                    classifiedBy="Survey team",
                )
        if visit % 10 == 0:
            observe(
                "",
                deployment,
                at,
                observationType="animal",
                scientificName=species,
                count=3,
                classificationMethod="human",
                classifiedBy="Survey team",
            )
    return media, observations


def _write(folder: Path, table: str, rows: list[dict[str, Any]]) -> None:
    with (EXAMPLE / f"{table}.csv").open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)


def survey(folder: Path, seed: int) -> bytes:
    folder.mkdir()
    descriptor = json.loads((EXAMPLE / "datapackage.json").read_text(encoding="utf-8"))
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    end = START + timedelta(days=8)
    deployments = []
    for deployment, location, offset in CAMERAS:

        def local(at: datetime, offset: str = offset) -> str:
            return at.isoformat().replace("+00:00", offset)

        deployments.append(
            {
                "deploymentID": deployment,
                "locationID": location,
                "locationName": location,
                "latitude": 51.2,
                "longitude": 4.4,
                "deploymentStart": local(START),
                "deploymentEnd": local(end),
                "cameraID": f"cam-{deployment}",
            }
        )
    _write(folder, "deployments", deployments)
    media, observations = _rows(random.Random(seed))
    _write(folder, "media", media)
    _write(folder, "observations", observations)
    return zip_folder(folder)


async def _rows_of(wl: RunningPlatform, token: str, pid: str, name: str, **params: Any) -> Any:
    body = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/statistics/{name}", params=params, headers=bearer(token)
        ),
        200,
    )
    return body["rows"]


async def agree(
    wl: RunningPlatform, token: str, pid: str, scopes: list[Scope]
) -> dict[str, list[dict[str, Any]]]:
    """Detections over every scope the detection records answer (at least the whole project,
    verified or not, and one station), and the detection rate over every scope, from the
    summaries and from the observations, must be the same; answers what the API says of each
    statistic over the whole project (and of the counts of verified records)."""
    answers = {name: await _rows_of(wl, token, pid, name) for name in STATISTICS}
    answers["verified counts"] = await _rows_of(wl, token, pid, "counts", verified_only="true")
    assert await records_agree(wl, pid, scopes) >= 4
    project_id = uuid.UUID(pid)
    db = wl.platform.contexts["catalogue"].db
    assert db is not None
    async with db.transaction() as session:
        for s in scopes:
            if s.taxon_id is None:
                assert sorted(
                    await summary_queries.media_by_deployment(session, project_id, s)
                ) == (sorted(await records.media_by_deployment(session, project_id, s))), s
    return answers


def _total(rows: list[dict[str, Any]], taxon: str, column: str) -> int:
    return sum(r[column] for r in rows if r["taxon"] == taxon)


async def test_statistics_agree_with_the_records_through_every_change(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    h = bearer(admin)
    taxa = await import_tree(wl.client, admin)
    project = await ok(await wl.client.post("/v1/projects", json={"name": "Marsh"}, headers=h), 201)
    pid = project["id"]
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/imports/camtrap-dp",
            files={"files": ("s.zip", survey(tmp_path / "pkg", seed=5), "application/zip")},
            headers=h,
        ),
        200,
    )
    locations = await ok(await wl.client.get(f"/v1/projects/{pid}/locations", headers=h), 200)
    station = next(loc["id"] for loc in locations["items"] if loc["name"] == "loc-1")
    deployments = await ok(await wl.client.get(f"/v1/projects/{pid}/deployments", headers=h), 200)
    scopes = [
        Scope(),
        Scope(verified_only=True),
        Scope(location_ids=(uuid.UUID(station),)),
        Scope(deployment_ids=(uuid.UUID(deployments["items"][0]["id"]),)),
        Scope(captured_from=START + timedelta(days=1), captured_to=START + timedelta(days=4)),
        Scope(taxon_id=uuid.UUID(taxa["Ardea"])),
        Scope(taxon_id=uuid.UUID(taxa["Ardea"]), verified_only=True),
    ]
    before = await agree(wl, admin, pid, scopes)
    assert _total(before["counts"], "Vulpes vulpes", "records") > 0

    async def observations(**params: Any) -> list[dict[str, Any]]:
        page = await ok(
            await wl.client.get(
                f"/v1/projects/{pid}/observations",
                params={"limit": 1000, "observation_type": "animal", **params},
                headers=h,
            ),
            200,
        )
        return list(page["items"])

    def act(observation: dict[str, Any], action: str) -> str:
        return f"/v1/projects/{pid}/observations/{observation['id']}/{action}"

    # A person's label marked dubious: it leaves the verified statistics.
    human = await observations(classification_method="human")
    dubious = next(o for o in human if o["media_id"])
    await ok(await wl.client.post(act(dubious, "dubious"), headers=h), 200)
    changed = await agree(wl, admin, pid, scopes)
    assert _total(changed["verified counts"], dubious["scientific_name"], "records") == (
        _total(before["verified counts"], dubious["scientific_name"], "records") - 1
    )

    # A person's label corrected to a mallard: one record moves between taxa.
    corrected = next(o for o in human if o["media_id"] and o["id"] != dubious["id"])
    await ok(
        await wl.client.post(
            act(corrected, "correct"),
            json={"taxon_id": taxa["Anas platyrhynchos"]},
            headers=h,
        ),
        200,
    )
    await agree(wl, admin, pid, scopes)

    # The machine's label discarded, and a whole medium deleted.
    machine = await observations(classification_method="machine")
    await ok(await wl.client.post(act(machine[0], "discard"), headers=h), 200)
    await ok(
        await wl.client.delete(f"/v1/projects/{pid}/media/{machine[-1]['media_id']}", headers=h),
        200,
    )
    after_deletes = await agree(wl, admin, pid, scopes)
    assert sum(r["media"] for r in after_deletes["detection-rate"]) == (
        sum(r["media"] for r in before["detection-rate"]) - 1
    )

    # The third camera's clock was on UTC+02:00, not UTC: its detections start two hours
    # later in local time, with nothing to recompute.
    third = next(d for d in deployments["items"] if d["location_id"] != station)
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/deployments/{third['id']}",
            json={"utc_offset": "+02:00"},
            headers=h,
        ),
        200,
    )
    retimed = await agree(wl, admin, pid, scopes)
    assert sum(r["independent_detections"] for r in retimed["activity"]) == sum(
        r["independent_detections"] for r in after_deletes["activity"]
    )

    # A photo posted for the third camera with no time in it at all: it counts for that
    # camera's detection rate (a medium without an animal) and for nothing timed.
    untimed = await ok(
        await post_media(
            wl.client,
            admin,
            data=small_jpeg(),
            fields={"project_id": pid, "deployment_id": third["id"]},
        ),
        202,
    )
    stored = await eventually(lambda: get_media(wl.client, admin, untimed["media_id"]))
    assert stored["captured_at"] is None
    assert stored["deployment_id"] == third["id"]

    def media_of(rows: list[dict[str, Any]], deployment: dict[str, Any]) -> int:
        return sum(r["media"] for r in rows if r["deployment_id"] == deployment["id"])

    with_untimed = await agree(wl, admin, pid, scopes)
    assert media_of(with_untimed["detection-rate"], third) == (
        media_of(retimed["detection-rate"], third) + 1
    )
    await ok(
        await wl.client.delete(f"/v1/projects/{pid}/media/{untimed['media_id']}", headers=h),
        200,
    )
    assert media_of((await agree(wl, admin, pid, scopes))["detection-rate"], third) == (
        media_of(retimed["detection-rate"], third)
    )

    # A deployment deleted with its media: the station keeps only the other camera.
    second = next(d for d in deployments["items"] if d["location_id"] == station)
    await ok(
        await wl.client.delete(f"/v1/projects/{pid}/deployments/{second['id']}", headers=h),
        200,
    )
    final = await agree(wl, admin, pid, scopes)
    assert second["id"] not in {r["deployment_id"] for r in final["detection-rate"]}
