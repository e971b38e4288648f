"""COCO Camera Traps out of one project and into another, on the embedded and real backends."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.megadetector_checks import cct_problems
from tests.support.platform import RunningPlatform, eventually

# Imports and exports are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")


async def new_project(wl: RunningPlatform, token: str, name: str = "Exchange") -> str:
    body = await ok(
        await wl.client.post("/v1/projects", json={"name": name}, headers=bearer(token)), 201
    )
    return str(body["id"])


async def import_example(
    wl: RunningPlatform, token: str, pid: str, package: Path = EXAMPLE
) -> None:
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/imports/camtrap-dp",
            files={"files": ("package.zip", zip_folder(package), "application/zip")},
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
    """Images by id, and annotations by their observation's id with their category's name
    instead of its id."""
    names = {c["id"]: c["name"] for c in document["categories"]}
    images = {i["id"]: i for i in document["images"]}
    annotations = {}
    for a in document["annotations"]:
        a = dict(a)
        a["category"] = names[a.pop("category_id")]
        annotations[a["observation_id"]] = a
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
    # A file that lives elsewhere is named by its file name; its address has a field of its own.
    assert images["07840dcc"]["file_name"] == "20200709093328-RCNX0001.JPG"
    assert images["07840dcc"]["url"] == (
        "https://multimedia.agouti.eu/assets/07840dcc-0d99-4ab4-973b-7e4a8e20b56d/file"
    )

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
        for field in (
            "file_name",
            "url",
            "datetime",
            "utc_offset",
            "location",
            "latitude",
            "longitude",
        ):
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


_BOX_COLUMNS = ("bboxX", "bboxY", "bboxWidth", "bboxHeight")


def _edit(package: Path, table: str, key: str, changes: dict[str, str]) -> None:
    """Change the row of ``table`` (say ``media``) whose first column is ``key``, in the
    package folder ``package``."""
    path = package / f"{table}.csv"
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        if row[fields[0]] == key:
            row.update(changes)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)


def _relative(name: str) -> bool:
    return (
        "://" not in name
        and not PurePosixPath(name).is_absolute()
        and not PureWindowsPath(name).is_absolute()
        and not PureWindowsPath(name).drive
        and ".." not in PurePosixPath(name.replace("\\", "/")).parts
    )


async def test_coco_tools_read_the_export(wl: RunningPlatform, admin: str, tmp_path: Path) -> None:
    # The example with one heron photo whose observation has no box: the platform holds the
    # file all the same, so the image's size is known.
    package = tmp_path / "package"
    shutil.copytree(EXAMPLE, package)
    _edit(package, "observations", "3b185b03_1", dict.fromkeys(_BOX_COLUMNS, ""))
    # A photo that lives elsewhere, whose EXIF data the package carries: its size is known.
    exif = {"Make": "RECONYX", "ExifImageWidth": 1920, "ExifImageHeight": 1080}
    _edit(package, "media", "0e98b93e", {"exifData": json.dumps(exif)})
    pid = await new_project(wl, admin, "Herons")
    await import_example(wl, admin, pid, package)
    with await export_zip(wl, admin, pid, "coco") as archive:
        exported = archive.read("coco.json")
    path = tmp_path / "coco.json"
    path.write_bytes(exported)
    document = json.loads(exported)

    with (EXAMPLE / "media.csv").open(newline="") as handle:
        media = {r["mediaID"]: r for r in csv.DictReader(handle)}
    held = {key for key, row in media.items() if "://" not in row["filePath"]}
    assert len(held) == 10
    for image in document["images"]:
        # COCO Camera Traps ids are strings: the package's media ids, as they were.
        assert image["id"] in media
        row = media[image["id"]]
        # file_name is relative to the data set's folder; never a URL or an absolute path.
        assert _relative(image["file_name"]), image["file_name"]
        if image["id"] in held:
            assert image["file_name"] == row["filePath"]
            assert "url" not in image
            with Image.open(package / row["filePath"]) as picture:
                assert (image["width"], image["height"]) == picture.size, image["id"]
        else:
            assert image["file_name"] == row["fileName"]
            assert image["url"] == row["filePath"]
            assert ("width" in image) == (image["id"] == "0e98b93e")
    remote = next(i for i in document["images"] if i["id"] == "0e98b93e")
    assert (remote["width"], remote["height"]) == (1920, 1080)
    # Annotation ids are strings too, numbering the annotations from 1 (pycocotools'
    # evaluation reads them as numbers); each names its observation in observation_id.
    assert [a["id"] for a in document["annotations"]] == [
        str(n) for n in range(1, len(document["annotations"]) + 1)
    ]
    for annotation in document["annotations"]:
        assert annotation["iscrowd"] == 0
        box = annotation.get("bbox")
        expected = box[2] * box[3] if box else 0
        assert annotation["area"] == pytest.approx(expected), annotation

    # MegaDetector's checker for COCO Camera Traps files: string ids, sizes that match the
    # files in the package's folder; only the files that live elsewhere are not there.
    problems = cct_problems(path, package)
    missing = {media[key]["fileName"] for key in media if key not in held}
    assert {name for name, _ in problems} == missing
    assert all("does not exist" in why for _, why in problems)

    # The herons' sequence in the order the camera took it: two photos a second, numbered by
    # the camera in its file names.
    herons = sorted(
        (i for i in document["images"] if i["seq_id"] == "7245a2aa"), key=lambda i: i["frame_num"]
    )
    assert [i["file_name"] for i in herons] == sorted(media[key]["filePath"] for key in held)
    assert {i["seq_num_frames"] for i in herons} == {10}

    coco = COCO(str(path))
    [heron] = coco.loadImgs(["3b185b03"])
    assert heron["file_name"] == "media/20210531082541-RCNX0040.JPG"
    with Image.open(package / heron["file_name"]) as picture:
        assert (heron["width"], heron["height"]) == picture.size
    [label] = coco.loadAnns(coco.getAnnIds(imgIds=["3b185b03"]))
    assert label["observation_id"] == "3b185b03_1"
    assert "bbox" not in label
    assert coco.loadCats([label["category_id"]])[0]["name"] == "Ardea"

    # The export evaluated against itself, as a perfect detector's results would be.
    boxed = [a for a in coco.loadAnns(coco.getAnnIds()) if "bbox" in a]
    assert {a["image_id"] for a in boxed} == (held - {"3b185b03"}) | {"0e98b93e"}
    [remote_box] = [a["bbox"] for a in boxed if a["image_id"] == "0e98b93e"]
    assert remote_box[0] == pytest.approx(0.32325 * 1920, abs=0.01)
    results = coco.loadRes(
        [
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "bbox": a["bbox"],
                "score": 0.9,
            }
            for a in boxed
        ]
    )
    evaluation = COCOeval(coco, results, "bbox")
    evaluation.params.imgIds = sorted({a["image_id"] for a in boxed})
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    # AP over IoU 0.5:0.95, every size, and AP at IoU 0.5.
    assert evaluation.stats[0] == pytest.approx(1.0)
    assert evaluation.stats[1] == pytest.approx(1.0)
