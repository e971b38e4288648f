"""COCO Camera Traps out of one project and into another, on the embedded and real backends."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.platform import RunningPlatform, eventually

# Imports and exports are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")


async def new_project(wl: RunningPlatform, token: str, name: str = "Exchange") -> str:
    body = await ok(
        await wl.client.post("/v1/projects", json={"name": name}, headers=bearer(token)), 201
    )
    return str(body["id"])


async def import_example(wl: RunningPlatform, token: str, pid: str) -> None:
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/imports/camtrap-dp",
            files={"files": ("package.zip", zip_folder(EXAMPLE), "application/zip")},
            headers=bearer(token),
        ),
        200,
    )


async def export_zip(wl: RunningPlatform, token: str, pid: str, fmt: str) -> zipfile.ZipFile:
    """Run an export job to the end and download its zip, as a user would."""
    h = bearer(token)
    job = await ok(
        await wl.client.post(f"/v1/projects/{pid}/exports", json={"format": fmt}, headers=h), 202
    )

    async def finished() -> dict[str, Any] | None:
        body = await ok(
            await wl.client.get(f"/v1/projects/{pid}/exports/{job['id']}", headers=h), 200
        )
        return body if body["status"] in ("done", "failed") else None

    done = await eventually(finished, timeout=120)
    assert done["status"] == "done", done["error"]
    assert done["format"] == fmt
    url = done["download_url"]
    if url.startswith(wl.settings.public_url):
        parts = urlsplit(url)
        response = await wl.client.get(f"{parts.path}?{parts.query}")
    else:
        async with httpx.AsyncClient() as outside:
            response = await outside.get(url)
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content))


async def import_coco(
    wl: RunningPlatform, token: str, pid: str, document: Any, **form: str
) -> httpx.Response:
    return await wl.client.post(
        f"/v1/projects/{pid}/imports/coco",
        files={"file": ("coco.json", json.dumps(document).encode(), "application/json")},
        data=form,
        headers=bearer(token),
    )


def _records(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Images by id, and annotations by id with their category's name instead of its id."""
    names = {c["id"]: c["name"] for c in document["categories"]}
    images = {i["id"]: i for i in document["images"]}
    annotations = {}
    for a in document["annotations"]:
        a = dict(a)
        a["category"] = names[a.pop("category_id")]
        annotations[a["id"]] = a
    return images, annotations


async def test_coco_round_trips_the_camtrap_dp_example(wl: RunningPlatform, admin: str) -> None:
    source = await new_project(wl, admin, "MICA")
    await import_example(wl, admin, source)
    with await export_zip(wl, admin, source, "coco") as archive:
        exported = json.loads(archive.read("coco.json"))

    # Every medium is an image; every media-level observation an annotation.
    with (EXAMPLE / "observations.csv").open(newline="") as handle:
        media_level = [r for r in csv.DictReader(handle) if r["mediaID"]]
    images, annotations = _records(exported)
    assert len(images) == 423
    assert set(annotations) == {r["observationID"] for r in media_level}
    for row in media_level:
        annotation = annotations[row["observationID"]]
        assert annotation["image_id"] == row["mediaID"]
        # Blanks go under COCO Camera Traps' "empty" category.
        kind = {"blank": "empty"}.get(row["observationType"], row["observationType"])
        assert annotation["category"] == (row["scientificName"] or kind)
    # Boxes are in pixels of the images that came with the package; files that live
    # elsewhere have no known size, so their boxes cannot be written in pixels.
    with (EXAMPLE / "media.csv").open(newline="") as handle:
        local = {r["mediaID"] for r in csv.DictReader(handle) if "://" not in r["filePath"]}
    boxed = [r for r in media_level if r["bboxX"]]
    assert {r["observationID"] for r in boxed if r["mediaID"] in local} == {
        key for key, a in annotations.items() if "bbox" in a
    }
    heron = next(r for r in boxed if r["mediaID"] in local)
    image = images[heron["mediaID"]]
    with Image.open(EXAMPLE / "media" / Path(image["file_name"]).name) as picture:
        assert (image["width"], image["height"]) == picture.size
    box = annotations[heron["observationID"]]["bbox"]
    assert abs(box[0] / image["width"] - float(heron["bboxX"])) < 1e-3
    assert abs(box[3] / image["height"] - float(heron["bboxHeight"])) < 1e-3
    # Capture times in the camera's clock, the way COCO Camera Traps writes them.
    assert images["07840dcc"]["datetime"] == "2020-05-30 04:57:37"
    assert images["07840dcc"]["utc_offset"] == "+02:00"

    target = await new_project(wl, admin, "MICA again")
    summary = await ok(await import_coco(wl, admin, target, exported), 200)
    assert summary["created"]["media"] == 423
    assert summary["created"]["observations"] == len(media_level)
    assert summary["created"]["locations"] == 4
    again = await ok(await import_coco(wl, admin, target, exported), 200)
    assert "media" not in again["created"]
    assert again["updated"]["media"] == 423

    with await export_zip(wl, admin, target, "coco") as archive:
        reexported = json.loads(archive.read("coco.json"))
    deployments = await ok(
        await wl.client.get(f"/v1/projects/{target}/deployments", headers=bearer(admin)), 200
    )

    assert sorted(d["utc_offset"] for d in deployments["items"]) == [
        "+01:00",
        "+02:00",
        "+02:00",
        "+02:00",
    ]
    images_again, annotations_again = _records(reexported)
    assert images_again.keys() == images.keys()
    for key, image in images.items():
        for field in ("file_name", "datetime", "utc_offset", "location", "latitude", "longitude"):
            assert images_again[key].get(field) == image.get(field), (key, field)
        for field in ("width", "height", "seq_id", "seq_num_frames", "frame_num"):
            assert images_again[key].get(field) == image.get(field), (key, field)
    assert annotations_again.keys() == annotations.keys()
    for key, annotation in annotations.items():
        again_annotation = annotations_again[key]
        for field in ("image_id", "category", "count", "classification_method", "classified_by"):
            assert again_annotation.get(field) == annotation.get(field), (key, field)
        if "bbox" in annotation:
            assert again_annotation["bbox"] == annotation["bbox"]


async def test_a_bad_coco_file_is_refused_with_every_problem(
    wl: RunningPlatform, admin: str
) -> None:
    document = {
        "images": [
            {
                "id": 1,
                "file_name": "a.jpg",
                "width": 100,
                "height": 50,
                "location": "pond",
                "datetime": "2021-04-01 10:00:00",
                "latitude": 50.1,
                "longitude": 4.2,
            },
            {
                "id": 2,
                "file_name": "b.jpg",
                "width": -3,
                "height": 50,
                "location": "pond",
                "datetime": "yesterday",
            },
            {"id": 3, "file_name": "c.jpg", "location": "nowhere"},
        ],
        "categories": [{"id": 0, "name": "empty"}, {"id": 1, "name": "Ardea cinerea"}],
        "annotations": [
            {"id": "a1", "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
            {"id": "a2", "image_id": 1, "category_id": 7},
            {"id": "a3", "image_id": 9, "category_id": 1},
            {"id": "a4", "image_id": 1, "category_id": 1, "bbox": [90, 10, 20, 20]},
            {"id": "a5", "image_id": 3, "category_id": 1, "bbox": [1, 1, 2, 2]},
        ],
    }
    pid = await new_project(wl, admin)
    refused = await import_coco(wl, admin, pid, document)
    assert refused.status_code == 422
    body = refused.json()
    problems = {(p["resource"], p.get("row"), p.get("field")) for p in body["fields"]}
    assert problems == {
        ("images", 1, "width"),
        ("images", 1, "datetime"),
        ("annotations", 1, "category_id"),
        ("annotations", 2, "image_id"),
        ("annotations", 3, "bbox"),
        ("annotations", 4, "bbox"),
        ("images", None, "location"),
    }, body["fields"]
    assert "nothing was imported" in body["detail"]

    bad_offset = await import_coco(wl, admin, pid, document, utc_offset="CET")
    assert bad_offset.status_code == 422
    not_json = await wl.client.post(
        f"/v1/projects/{pid}/imports/coco",
        files={"file": ("coco.json", b"{not json", "application/json")},
        headers=bearer(admin),
    )
    assert not_json.status_code == 422
    assert "not JSON" in not_json.json()["detail"]

    # Nothing of the refused file is in the project.
    locations = await ok(
        await wl.client.get(f"/v1/projects/{pid}/locations", headers=bearer(admin)), 200
    )
    assert locations["items"] == []
    media = await ok(await wl.client.get(f"/v1/projects/{pid}/media", headers=bearer(admin)), 200)
    assert media["items"] == []
