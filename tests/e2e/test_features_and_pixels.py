"""Features and pixels together, through the public API on both backends: plankton objects of
four classes (two shapes in two sizes: the normalised vignettes show the shape, a feature
carries the size) are imported from an EcoTaxa bundle, sorted by an expert; a ``combined``
training job fits the image classifier, a random forest on the features and one on both,
scores all three on the same test objects and registers the combined model; promoted, it
names the next imported objects from their pixels and features, and an uploaded object that
has no features is named from its pixels alone. A combined job on objects without features
is refused before it starts."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from tests.e2e.test_exchange_coco import new_project
from tests.e2e.test_exchange_ecotaxa import _job
from tests.e2e.test_taxa import import_tree
from tests.support.api import Site, bearer, ok, post_media
from tests.support.ecotaxa import HEADER_TYPES, EcoRow, bundle_zip, write_bundle
from tests.support.factories import Tokens
from tests.support.plankton import PLANKTON_CLASSES, plankton_object
from tests.support.platform import RunningPlatform, eventually, get_media
from tests.support.training_runs import ended_job

pytestmark = [pytest.mark.timeout(600)]

TREE = (
    "taxonID,parentNameUsageID,scientificName,taxonRank,vernacularName\n"
    "1,,Animalia,kingdom,Animals\n"
    "2,1,Arthropoda,phylum,\n"
    "3,2,Copepoda,subclass,Copepods\n"
    + "".join(f"{10 + n},3,{name},species,\n" for n, name in enumerate(PLANKTON_CLASSES))
)
NAMES = list(PLANKTON_CLASSES)
PER_CLASS = 24
SPEC: dict[str, Any] = {
    "classes": {name: {"taxa": [{"name": name}]} for name in NAMES},
    "min_count": 3,
}
FEATURE_COLUMNS = {"object_area", "object_major", "object_minor", "object_mean"}
HYPERPARAMETERS = {
    # A ResNet-18 from scratch tells a disc from a ring only after some epochs: at 3 its test
    # accuracy was 0.29-0.57 of the 0.5 that shape alone allows, and once in a full suite run
    # it called a new disc a ring, which the combined model (fitted on the image model's own
    # training objects) then believed. At 15: 0.40-0.64.
    "epochs": 15,
    "batch_size": 16,
    "image_size": 32,
    "patience": 50,
    "learning_rate": 0.001,
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _sorted_rows() -> list[EcoRow]:
    """Objects an expert sorted, validated."""
    rows = []
    for c, name in enumerate(NAMES):
        for i in range(PER_CLASS):
            row = EcoRow(f"sorted_{c}_{i:02d}", "", 0, sample=f"s{i % 3}")
            row.drawn = plankton_object(name, c * 10_000 + i)
            row.cells = {
                "object_annotation_category": name,
                "object_annotation_status": "validated",
                "object_annotation_person_name": "Marie Curie",
                "object_annotation_person_email": "marie@example.org",
                "object_annotation_date": "20240313",
                "object_annotation_time": "101500",
            }
            rows.append(row)
    return rows


def _new_rows() -> list[EcoRow]:
    """One object of each class that nobody sorted yet."""
    rows = []
    for c, name in enumerate(NAMES):
        row = EcoRow(f"new_{c}", "", 0, sample="s9")
        row.drawn = plankton_object(name, 900_000 + c)
        rows.append(row)
    return rows


async def _analysed(wl: RunningPlatform, token: str, media_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        media = await get_media(wl.client, token, media_id)
        return media if media and media["status"] == "analyzed" else None

    return dict(await eventually(probe, timeout=60))


def _named(media: dict[str, Any]) -> dict[str, Any]:
    (named,) = [
        o
        for o in media["observations"]
        if o["category"] == "animal" and o["classification_method"] == "machine"
    ]
    return dict(named)


async def test_a_combined_model_names_objects_from_pixels_and_features(
    wl: RunningPlatform, admin: str, token_for: Tokens, site: Site, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin, TREE)
    pid = site.project_id
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}", json={"media_kind": "objects"}, headers=bearer(admin)
        ),
        200,
    )
    manager = token_for("marta", {pid: "manager"})
    done = await _job(wl, admin, pid, bundle_zip(write_bundle(tmp_path / "a", _sorted_rows())))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])

    job = await ok(
        await wl.client.post(
            "/v1/training-jobs",
            json={
                "project_id": pid,
                "kind": "combined",
                "label_spec": SPEC,
                "architecture": "resnet18",
                "hyperparameters": HYPERPARAMETERS,
                "seed": 7,
            },
            headers=bearer(manager),
        ),
        202,
    )
    assert job["kind"] == "combined"

    finished = await ended_job(wl.client, manager, job["id"], timeout=300)
    assert finished["status"] == "succeeded", finished
    model = await ok(
        await wl.client.get(f"/v1/models/{finished['model_id']}", headers=bearer(manager)), 200
    )
    assert model["name"].startswith("combined-")
    report = await ok(
        await wl.client.get(f"/v1/models/{model['id']}/evaluation", headers=bearer(manager)), 200
    )
    compared = report["features_and_pixels"]
    assert compared["feature_names"] == ["area", "major", "mean", "minor"]
    assert set(compared["combined"]["per_class"]) == set(NAMES)
    image, features, combined = (
        compared[part]["accuracy"] for part in ("image", "features", "combined")
    )
    assert combined >= image + 0.03, compared
    assert combined >= features + 0.03, compared
    assert compared["onnx_max_difference"] <= 1e-4
    assert model["metrics"]["combined_top1"] == combined
    dataset = await ok(
        await wl.client.get(
            f"/v1/datasets/{report['dataset_id']}/manifest", headers=bearer(manager)
        ),
        200,
    )
    assert all(set(s["features"]) == {"area", "major", "minor", "mean"} for s in dataset["samples"])
    assert all(s["bbox"] == [0.0, 0.0, 1.0, 1.0] for s in dataset["samples"])

    await ok(
        await wl.client.post(f"/v1/models/{model['id']}/promote", headers=bearer(manager)), 200
    )

    async def serving() -> bool:
        models = (await wl.client.get("/readyz")).json()["services"]["inference"]["models"]
        return any((m["name"], m["version"]) == (model["name"], model["version"]) for m in models)

    await eventually(serving, timeout=60)

    # Objects imported unsorted are classified with their features: every class named.
    done = await _job(wl, admin, pid, bundle_zip(write_bundle(tmp_path / "b", _new_rows())))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    media = {
        m["filename"]: m["id"]
        for m in (
            await ok(
                await wl.client.get(
                    f"/v1/projects/{pid}/media?limit=200&feature=major>0", headers=bearer(admin)
                ),
                200,
            )
        )["items"]
        if m["filename"].startswith("new_")
    }
    for c, name in enumerate(NAMES):
        analysed = await _analysed(wl, admin, media[f"new_{c}.png"])
        assert {a["classifier_version"] for a in analysed["analyses"]} == {model["version"]}
        assert _named(analysed)["scientific_name"] == name, (name, analysed["observations"])

    # An uploaded object has no features: its pixels alone name it, a disc one of the discs.
    png, _ = plankton_object(NAMES[1], 990_001)
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(jpeg, "JPEG", quality=95)
    body = await ok(
        await post_media(wl.client, site.device_token, data=jpeg.getvalue(), filename="u.jpg"),
        202,
    )
    uploaded = await _analysed(wl, admin, body["media_id"])
    assert _named(uploaded)["scientific_name"] in NAMES[:2], uploaded["observations"]


async def test_a_combined_job_on_objects_without_features_is_refused_before_it_starts(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin, TREE)
    pid = await new_project(wl, admin, "No features")
    rows = _sorted_rows()[::6]
    for row in rows:
        assert row.drawn is not None
        row.drawn = (row.drawn[0], {})
    types = {k: v for k, v in HEADER_TYPES.items() if k not in FEATURE_COLUMNS}
    done = await _job(wl, admin, pid, bundle_zip(write_bundle(tmp_path, rows, types)))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    assert "features" not in done["summary"]["created"]

    refused = await wl.client.post(
        "/v1/training-jobs",
        json={
            "project_id": pid,
            "kind": "combined",
            "label_spec": SPEC,
            "architecture": "resnet18",
        },
        headers=bearer(admin),
    )
    assert refused.status_code == 422, refused.text
    assert "is of an object with features" in refused.json()["detail"]
    jobs = await ok(
        await wl.client.get(f"/v1/training-jobs?project_id={pid}", headers=bearer(admin)), 200
    )
    assert jobs["items"] == []
