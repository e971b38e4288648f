"""KSO's sites, movies and species CSVs into a project, and a flat CSV export of what a project
holds; on both backends."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.e2e.test_exchange_coco import export_zip, import_example, new_project
from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE
from tests.support.platform import RunningPlatform

# KSO's column layout (ocean-data-factory-sweden/kso), with Koster sites and species.
SITES = (
    "site_id,siteName,decimalLatitude,decimalLongitude,geodeticDatum,countryCode\n"
    "1,KVF_2,58.8779,11.0964,WGS84,SE\n"
    "2,Yttre Vattenholmen,58.8765,11.1096,WGS84,SE\n"
)
MOVIES = (
    "movie_id,filename,created_on,fps,duration,sampling_start,sampling_end,author,site_id,fpath\n"
    "1,movie_KVF_2_2019.mp4,2019-06-04 10:11:00,25,600,10,590,Jannes,1,"
    "https://koster.example.org/movies/movie_KVF_2_2019.mp4\n"
    "2,movie_KVF_2_2020.mp4,2020-06-09 09:00:00,25,300,0,300,Jannes,1,\n"
    "3,vattenholmen_2019.mov,2019-07-01 14:30:00,30,120,5,100,Matthias,2,\n"
)
SPECIES = (
    "species_id,commonName,scientificName,taxonRank,kingdom\n"
    "1,Deep-water coral,Desmophyllum pertusum,species,Animalia\n"
    "2,Cod,Gadus morhua,species,Animalia\n"
    "3,Sea stars,Asteroidea,class,Animalia\n"
)


# Imports and exports are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")


async def _import(
    wl: RunningPlatform, token: str, pid: str, tables: dict[str, str], **form: str
) -> httpx.Response:
    files = [("files", (f"{n}_koster.csv", t.encode(), "text/csv")) for n, t in tables.items()]
    return await wl.client.post(
        f"/v1/projects/{pid}/imports/kso", files=files, data=form, headers=bearer(token)
    )


async def test_kso_csvs_become_locations_videos_and_a_species_list(
    wl: RunningPlatform, admin: str
) -> None:
    tables = {"sites": SITES, "movies": MOVIES, "species": SPECIES}
    h = bearer(admin)
    pid = await new_project(wl, admin, "Koster")
    summary = await ok(await _import(wl, admin, pid, tables, utc_offset="+02:00"), 200)
    assert summary["created"] == {
        "locations": 2,
        "devices": 1,
        "deployments": 2,
        "media": 3,
        "taxa": 3,
        "project_taxa": 3,
        "label_map_entries": 3,
    }
    again = await ok(await _import(wl, admin, pid, tables, utc_offset="+02:00"), 200)
    assert again["created"] == {}
    assert again["updated"] == {"media": 3}

    locations = await ok(await wl.client.get(f"/v1/projects/{pid}/locations", headers=h), 200)
    by_name = {loc["name"]: loc for loc in locations["items"]}
    assert by_name["KVF_2"]["latitude"] == 58.8779
    assert by_name["Yttre Vattenholmen"]["region"] == "SE"

    media = await ok(await wl.client.get(f"/v1/projects/{pid}/media", headers=h), 200)
    videos = {m["filename"]: m for m in media["items"]}
    assert set(videos) == {
        "movie_KVF_2_2019.mp4",
        "movie_KVF_2_2020.mp4",
        "vattenholmen_2019.mov",
    }
    first = videos["movie_KVF_2_2019.mp4"]
    assert first["kind"] == "video"
    # created_on in the given offset, returned in UTC.
    assert first["captured_at"].startswith("2019-06-04T08:11:00")
    deployments = await ok(await wl.client.get(f"/v1/projects/{pid}/deployments", headers=h), 200)
    kvf = next(d for d in deployments["items"] if d["location_id"] == by_name["KVF_2"]["id"])
    # One deployment per site, spanning its movies.
    assert kvf["start"].startswith("2019-06-04T08:11:00")
    assert kvf["end"].startswith("2020-06-09T07:00:00")

    species = await ok(await wl.client.get(f"/v1/projects/{pid}/taxa", headers=h), 200)
    assert {t["scientific_name"] for t in species["taxa"]} == {
        "Desmophyllum pertusum",
        "Gadus morhua",
        "Asteroidea",
    }
    labels = await ok(await wl.client.get(f"/v1/projects/{pid}/label-maps/kso", headers=h), 200)
    assert {e["label"]: e["scientific_name"] for e in labels["entries"]} == {
        "Deep-water coral": "Desmophyllum pertusum",
        "Cod": "Gadus morhua",
        "Sea stars": "Asteroidea",
    }


async def test_bad_kso_csvs_are_refused_with_every_problem(wl: RunningPlatform, admin: str) -> None:
    bad_sites = SITES + "3,Nowhere,95.0,11.1,WGS84,SE\n1,KVF_2 again,58.8,11.0,WGS84,SE\n"
    bad_movies = MOVIES + (
        "4,lost.mp4,2019-06-04 10:11:00,25,60,50,40,Jannes,9,\n"
        "5,late.mp4,not a date,25,60,0,90,Jannes,2,\n"
    )
    bad_species = SPECIES + "4,Mystery,,species,Animalia\n5,Blob,Blobbus,blobrank,Animalia\n"
    pid = await new_project(wl, admin, "Koster")
    refused = await _import(
        wl, admin, pid, {"sites": bad_sites, "movies": bad_movies, "species": bad_species}
    )
    assert refused.status_code == 422
    problems = {(p["resource"], p.get("row"), p.get("field")) for p in refused.json()["fields"]}
    assert problems == {
        ("sites.csv", 4, "decimalLatitude"),
        ("sites.csv", 5, "site_id"),
        ("movies.csv", 5, "site_id"),
        ("movies.csv", 5, "sampling_start"),
        ("movies.csv", 6, "created_on"),
        ("movies.csv", 6, "sampling_end"),
        ("species.csv", 5, "scientificName"),
        ("species.csv", 6, "taxonRank"),
    }, refused.json()["fields"]

    missing = await _import(wl, admin, pid, {"sites": SITES, "species": SPECIES})
    assert missing.status_code == 422
    assert missing.json()["fields"][0]["message"] == "the movies CSV is missing"
    unnamed = await wl.client.post(
        f"/v1/projects/{pid}/imports/kso",
        files=[("files", ("table.csv", SITES.encode(), "text/csv"))],
        headers=bearer(admin),
    )
    assert unnamed.status_code == 422

    locations = await ok(
        await wl.client.get(f"/v1/projects/{pid}/locations", headers=bearer(admin)), 200
    )
    assert locations["items"] == []


async def test_the_flat_csv_joins_observations_to_media_deployments_and_locations(
    wl: RunningPlatform, admin: str
) -> None:
    pid = await new_project(wl, admin)
    await import_example(wl, admin, pid)
    with await export_zip(wl, admin, pid, "csv") as archive:
        text = archive.read("observations.csv").decode("utf-8")
    rows = {r["observation_id"]: r for r in csv.DictReader(io.StringIO(text))}
    with (EXAMPLE / "observations.csv").open(newline="") as handle:
        source = {r["observationID"]: r for r in csv.DictReader(handle)}
    with (EXAMPLE / "deployments.csv").open(newline="") as handle:
        deployments = {r["deploymentID"]: r for r in csv.DictReader(handle)}
    with (EXAMPLE / "media.csv").open(newline="") as handle:
        media = {r["mediaID"]: r for r in csv.DictReader(handle)}
    assert rows.keys() == source.keys()
    for key, row in rows.items():
        original = source[key]
        deployment = deployments[original["deploymentID"]]
        assert row["deployment_id"] == original["deploymentID"]
        assert row["location_name"] == deployment["locationName"]
        assert float(row["latitude"]) == float(deployment["latitude"])
        assert row["camera_serial"] == deployment["cameraID"]
        assert row["scientific_name"] == original["scientificName"]
        assert row["observation_level"] == original["observationLevel"]
        if original["mediaID"]:
            assert row["file_path"] == media[original["mediaID"]]["filePath"]
            assert row["captured_at_local"] == media[original["mediaID"]]["timestamp"]
