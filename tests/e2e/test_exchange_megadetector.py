"""MegaDetector batch output onto uploaded media and back out, on both backends."""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_exchange_coco import export_zip, import_example, new_project
from tests.e2e.test_predict import TRUTH, _iou, _scene_jpeg, check_megadetector_format
from tests.support.api import Site, bearer, create_site, ok, post_media
from tests.support.camtrapdp import EXAMPLE
from tests.support.factories import Uploads
from tests.support.platform import RunningPlatform, eventually, get_media


def results(files: list[str]) -> dict[str, Any]:
    """A results file as MegaDetector with a species classifier writes it."""
    return {
        "info": {
            "format_version": "1.6",
            "detector": "md_v5a.0.0.pt",
            "detection_completion_time": "2021-05-01 10:11:12",
            "classifier": "speciesnet-4.0.2a",
            "detector_metadata": {
                "megadetector_version": "v5a.0.0",
                "typical_detection_threshold": 0.2,
                "conservative_detection_threshold": 0.005,
            },
            "classification_completion_time": "2021-05-01 11:12:13",
            "classifier_metadata": {"typical_classification_threshold": 0.75},
        },
        "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
        "classification_categories": {"0": "Ardea cinerea", "1": "Anas platyrhynchos"},
        "images": [
            {
                "file": f"DCIM/100RECNX/{files[0]}",
                "detections": [
                    {
                        "category": "1",
                        "conf": 0.926,
                        "bbox": [0.1, 0.2762, 0.1539, 0.2825],
                        "classifications": [["0", 0.901], ["1", 0.071]],
                    },
                    {"category": "2", "conf": 0.31, "bbox": [0.5, 0.5, 0.25, 0.4]},
                ],
            },
            {"file": files[1], "detections": []},
            {"file": files[2], "failure": "Failure image access", "detections": None},
        ],
    }


async def import_results(
    wl: RunningPlatform, token: str, pid: str, document: Any
) -> httpx.Response:
    return await wl.client.post(
        f"/v1/projects/{pid}/imports/megadetector",
        files={"file": ("md.json", json.dumps(document).encode(), "application/json")},
        headers=bearer(token),
    )


async def _uploaded(wl: RunningPlatform, admin: str, images: list[Path]) -> tuple[str, list[str]]:
    site = await create_site(wl.client, admin)
    ids = []
    for path in images:
        posted = await ok(await post_media(wl.client, site.device_token, path), 202)
        ids.append(posted["media_id"])
    for media_id in ids:
        await eventually(functools.partial(get_media, wl.client, admin, media_id))
    return site.project_id, ids


async def test_results_attach_to_uploaded_media_and_export_back(
    wl: RunningPlatform, admin: str, heron_images: list[Path]
) -> None:
    images = heron_images[:3]
    document = results([p.name for p in images])
    pid, media_ids = await _uploaded(wl, admin, images)

    summary = await ok(await import_results(wl, admin, pid, document), 200)
    assert summary["created"] == {"model_runs": 3, "observations": 2}
    # The same results again change nothing.
    again = await ok(await import_results(wl, admin, pid, document), 200)
    assert again["created"] == {}
    assert again["unchanged"] == {"model_runs": 3}

    first = await get_media(wl.client, admin, media_ids[0])
    assert first is not None
    assert first["status"] == "analyzed"
    observations = sorted(first["observations"], key=lambda o: -o["confidence"])
    assert [o["observation_type"] for o in observations] == ["animal", "human"]
    assert observations[0]["scientific_name"] == "Ardea cinerea"
    assert observations[0]["classification_method"] == "machine"
    assert observations[0]["classified_by"] == "md_v5a.0.0.pt@v5a.0.0"
    assert observations[0]["bbox"] == [0.1, 0.2762, 0.1539, 0.2825]
    # The file's ranked classifications, and how sure they are (0.901 leads 0.071 by 0.83).
    assert [(t["scientific_name"], t["probability"]) for t in observations[0]["top_labels"]] == [
        ("Ardea cinerea", 0.901),
        ("Anas platyrhynchos", 0.071),
    ]
    assert observations[0]["classification_margin"] == 0.83
    assert 0.0 < observations[0]["classification_entropy"] < 0.5
    assert observations[1]["top_labels"] == []
    failed = await get_media(wl.client, admin, media_ids[2])
    assert failed is not None
    assert failed["status"] == "recorded"

    with await export_zip(wl, admin, pid, "megadetector") as archive:
        exported = json.loads(archive.read("megadetector.json"))

    check_megadetector_format(exported)
    # The file's description of the run survives, thresholds included.
    assert exported["info"] == document["info"]
    by_file = {i["file"]: i for i in exported["images"]}
    assert set(by_file) == {p.name for p in images}
    detection_names = exported["detection_categories"]
    class_names = exported["classification_categories"]

    def readable(image: dict[str, Any], names: dict[str, str], classes: dict[str, str]) -> Any:
        if image.get("failure"):
            return ("failure", image["failure"], image.get("detections"))
        return sorted(
            (
                names[d["category"]],
                d["conf"],
                d["bbox"],
                [(classes[c], s) for c, s in d.get("classifications", [])],
            )
            for d in image["detections"]
        )

    source_names = document["detection_categories"]
    source_classes = document["classification_categories"]
    for image in document["images"]:
        name = Path(image["file"]).name
        assert readable(by_file[name], detection_names, class_names) == readable(
            image, source_names, source_classes
        ), name


async def test_a_bad_results_file_is_refused_whole(
    wl: RunningPlatform, admin: str, heron_images: list[Path]
) -> None:
    images = heron_images[:2]
    document = results([p.name for p in images] + ["IMG_9999.JPG"])
    document["images"][0]["detections"][0]["bbox"] = [0.9, 0.2, 0.3, 0.2]
    document["images"][0]["detections"][1]["category"] = "7"
    document["images"][0]["detections"][0]["classifications"] = [["1", 0.2], ["0", 0.7]]
    del document["info"]["format_version"]
    pid, media_ids = await _uploaded(wl, admin, images)
    refused = await import_results(wl, admin, pid, document)
    assert refused.status_code == 422
    problems = {(p["resource"], p.get("row"), p.get("field")) for p in refused.json()["fields"]}
    assert problems == {
        ("info", None, "format_version"),
        ("images", 0, "detections[0].bbox"),
        ("images", 0, "detections[0].classifications[1]"),
        ("images", 0, "detections[1].category"),
        ("images", 2, "file"),
    }
    # Not even the good image's results were kept.
    for media_id in media_ids:
        medium = await get_media(wl.client, admin, media_id)
        assert medium is not None
        assert medium["status"] == "recorded"
        assert medium["observations"] == []


async def test_imported_machine_detections_are_exported(wl: RunningPlatform, admin: str) -> None:
    pid = await new_project(wl, admin)
    await import_example(wl, admin, pid)
    with (EXAMPLE / "media.csv").open(newline="", encoding="utf-8") as handle:
        # Results files name images by relative path; media kept elsewhere by file name.
        files = {
            row["mediaID"]: row["fileName"] if "://" in row["filePath"] else row["filePath"]
            for row in csv.DictReader(handle)
        }
    with (EXAMPLE / "observations.csv").open(newline="", encoding="utf-8") as handle:
        boxes = [
            row
            for row in csv.DictReader(handle)
            if row["classificationMethod"] == "machine" and row["mediaID"] and row["bboxX"]
        ]
    assert len(boxes) == 20

    with await export_zip(wl, admin, pid, "megadetector") as archive:
        exported = json.loads(archive.read("megadetector.json"))

    check_megadetector_format(exported)
    names = exported["detection_categories"]
    classes = exported.get("classification_categories", {})
    found = sorted(
        (
            image["file"],
            names[d["category"]],
            d["conf"],
            d["bbox"],
            [(classes[c], s) for c, s in d.get("classifications", [])],
        )
        for image in exported["images"]
        for d in image["detections"] or []
    )
    expected = sorted(
        (
            files[row["mediaID"]],
            row["observationType"],
            float(row["classificationProbability"]),
            [float(row[k]) for k in ("bboxX", "bboxY", "bboxWidth", "bboxHeight")],
            [(row["scientificName"], float(row["classificationProbability"]))],
        )
        for row in boxes
    )
    assert found == expected


@pytest.mark.tiny_detector
async def test_detections_computed_by_the_platform_are_exported(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads
) -> None:
    posted = await ok(
        await upload.post(
            data=_scene_jpeg(),
            filename="scene.jpg",
            fields={"captured_at": "2021-04-01T12:00:00+02:00"},
        ),
        202,
    )

    async def analysed() -> dict[str, Any] | None:
        medium = await get_media(wl.client, admin, posted["media_id"])
        return medium if medium and medium["status"] == "analyzed" else None

    medium = await eventually(analysed, timeout=60)
    assert medium["observations"]

    with await export_zip(wl, admin, site.project_id, "megadetector") as archive:
        exported = json.loads(archive.read("megadetector.json"))

    check_megadetector_format(exported)
    assert exported["info"]["detector"] == "tiny-detector"
    (image,) = exported["images"]
    assert image["file"] == "scene.jpg"
    names = exported["detection_categories"]
    assert sorted((names[d["category"]], d["conf"], d["bbox"]) for d in image["detections"]) == (
        sorted(
            (o["category"], round(o["confidence"], 6), [round(v, 6) for v in o["bbox"]])
            for o in medium["observations"]
            if o["bbox"] is not None
        )
    )
    best = max(image["detections"], key=lambda d: d["conf"])
    assert _iou(best["bbox"], TRUTH) >= 0.5
