"""The loop closed through the public API, on both backends: camera images of three species at
five locations are uploaded and detected, an annotator names each animal; a training job builds
the dataset, trains, evaluates, exports (ONNX checked against torch) and registers a candidate;
a manager promotes it and new uploads are named by it. Labels confirmed on its answers train a
second model, evaluated beside the first; promoted, it names the next upload, and a rollback
brings the first one back."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.e2e.test_classification import TREE
from tests.e2e.test_taxa import import_tree
from tests.support.api import Site, bearer, ok, post_media
from tests.support.factories import Deployments, Sites, Tokens
from tests.support.marshes import add_marshes
from tests.support.platform import RunningPlatform, eventually, get_media
from tests.support.tiny_models import generate_scene

pytestmark = [pytest.mark.tiny_detector]

SPECIES = ("Ardea cinerea", "Ardea alba", "Anas platyrhynchos")
CLASSES = ("grey heron", "great egret", "mallard")
SPEC: dict[str, Any] = {
    "classes": {
        name: {"taxa": [{"name": taxon}]} for name, taxon in zip(CLASSES, SPECIES, strict=True)
    },
    "min_count": 3,
}
LOCATIONS = 5
PER_SPECIES = 4
BOX = (0.3, 0.25, 0.35, 0.4)
HYPERPARAMETERS = {
    "epochs": 16,
    "batch_size": 8,
    "image_size": 64,
    "patience": 16,
    "learning_rate": 0.001,
}


def _scene(species: int, seed: int) -> bytes:
    """A camera scene with one bright animal in ``BOX``: a solid one, a striped one or a
    chequered one, as the three species differ in shape of their markings as well as tint
    (training turns some crops grey, as infrared frames are)."""
    width, height = 640, 480
    pixels = np.asarray(generate_scene(width, height, BOX, seed), dtype=np.float32).copy()
    x, y, w, h = BOX
    x1, y1, x2, y2 = (
        round(x * width),
        round(y * height),
        round((x + w) * width),
        round((y + h) * height),
    )
    yy, xx = np.mgrid[y1:y2, x1:x2]
    bright = np.asarray(((250, 215, 215), (215, 250, 215), (215, 215, 250))[species], np.float32)
    dark = bright * 0.55
    if species == 0:
        on = np.ones_like(xx, dtype=bool)
    elif species == 1:
        on = ((yy - y1) // 28) % 2 == 0
    else:
        on = (((yy - y1) // 48) + ((xx - x1) // 48)) % 2 == 0
    rng = np.random.default_rng(seed + 7)
    patch = np.where(on[..., None], bright, dark) + rng.standard_normal((*on.shape, 3)) * 6
    pixels[y1:y2, x1:x2] = patch
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


async def _analysed(wl: RunningPlatform, token: str, media_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        media = await get_media(wl.client, token, media_id)
        return media if media and media["status"] == "analyzed" else None

    return dict(await eventually(probe, timeout=90))


def _animal(media: dict[str, Any]) -> dict[str, Any]:
    animals = [o for o in media["observations"] if o["observation_type"] == "animal"]
    assert animals, media
    return dict(max(animals, key=lambda o: o["confidence"] or 0))


async def _upload(
    wl: RunningPlatform, device: str, deployment: str, species: int, seed: int
) -> str:
    body = await ok(
        await post_media(
            wl.client,
            device,
            data=_scene(species, seed),
            filename=f"scene-{seed}.jpg",
            fields={"deployment_id": deployment},
        ),
        202,
    )
    return str(body["media_id"])


async def _survey(
    wl: RunningPlatform, admin: str, new_site: Sites, new_deployment: Deployments
) -> tuple[Site, list[str]]:
    """A project with five locations, each with its deployment; answers the site and the
    deployments."""
    site = await new_site()
    deployments = [site.deployment_id]
    more = await add_marshes(wl, admin, site, new_deployment, LOCATIONS - 1)
    deployments += [deployment for _, _, deployment in more]
    return site, deployments


async def _train(
    wl: RunningPlatform, manager: str, project: str, seed: int, **changes: Any
) -> dict[str, Any]:
    job = await ok(
        await wl.client.post(
            "/v1/training-jobs",
            json={
                "project_id": project,
                "label_spec": SPEC,
                "architecture": "resnet18",
                "hyperparameters": HYPERPARAMETERS,
                "seed": seed,
                **changes,
            },
            headers=bearer(manager),
        ),
        202,
    )

    async def ended() -> dict[str, Any] | None:
        found = await ok(
            await wl.client.get(f"/v1/training-jobs/{job['id']}", headers=bearer(manager)), 200
        )
        return found if found["status"] in ("succeeded", "failed", "cancelled") else None

    finished = dict(await eventually(ended, timeout=300, interval=0.5))
    assert finished["status"] == "succeeded", finished
    return finished


async def _serving(wl: RunningPlatform, name: str, version: str) -> None:
    async def probe() -> bool:
        models = (await wl.client.get("/readyz")).json()["services"]["inference"]["models"]
        return any((m["name"], m["version"]) == (name, version) for m in models)

    await eventually(probe, timeout=60)


async def _named_by(
    wl: RunningPlatform, token: str, device: str, deployment: str, seed: int
) -> tuple[list[dict[str, Any]], set[str]]:
    """Upload one scene of each species: each one's animal as the platform names it, and the
    versions of the classifiers that named them."""
    named, versions = [], set()
    for species in range(len(SPECIES)):
        media_id = await _upload(wl, device, deployment, species, seed + species)
        media = await _analysed(wl, token, media_id)
        named.append(_animal(media))
        versions |= {a["classifier_version"] for a in media["analyses"]}
    return named, versions


async def test_confirmed_labels_train_the_model_that_names_the_next_upload(
    wl: RunningPlatform,
    admin: str,
    token_for: Tokens,
    new_site: Sites,
    new_deployment: Deployments,
) -> None:
    await import_tree(wl.client, admin, TREE)
    site, deployments = await _survey(wl, admin, new_site, new_deployment)
    pid = site.project_id
    manager = token_for("marta", {pid: "manager"})
    annotator = token_for("ade", {pid: "annotator"})

    # Detected by the detector, named by an annotator.
    posted = [
        (
            await _upload(wl, site.device_token, deployment, species, 1000 * n + 10 * species + k),
            species,
        )
        for n, deployment in enumerate(deployments)
        for species in range(len(SPECIES))
        for k in range(PER_SPECIES)
    ]
    for media_id, species in posted:
        animal = _animal(await _analysed(wl, admin, media_id))
        await ok(
            await wl.client.post(
                f"/v1/projects/{pid}/observations/{animal['id']}/correct",
                json={"scientific_name": SPECIES[species]},
                headers=bearer(annotator),
            ),
            200,
        )

    # The first model: trained, evaluated and exported by one job.
    first_job = await _train(wl, manager, pid, seed=3)
    assert first_job["epoch"] >= 1
    assert any("exported to ONNX" in line for line in first_job["log_tail"])
    first = await ok(
        await wl.client.get(f"/v1/models/{first_job['model_id']}", headers=bearer(manager)), 200
    )
    assert first["stage"] == "candidate"
    report = await ok(
        await wl.client.get(f"/v1/models/{first['id']}/evaluation", headers=bearer(manager)),
        200,
    )
    assert report["challenger"]["top1"] >= 0.95, (report["challenger"], first_job["log_tail"])
    assert report["champion_model"] is None
    assert report["model_card"]["classes"] == list(CLASSES)
    dataset = await ok(
        await wl.client.get(
            f"/v1/datasets/{report['dataset_id']}/manifest", headers=bearer(manager)
        ),
        200,
    )
    splits: dict[str, set[str]] = {}
    for sample in dataset["samples"]:
        splits.setdefault(sample["location_id"], set()).add(sample["split"])
    assert all(len(found) == 1 for found in splits.values()), splits
    plot = await wl.client.get(
        f"/v1/models/{first['id']}/evaluation/confusion_matrix.png", headers=bearer(manager)
    )
    assert plot.status_code == 200
    assert plot.content.startswith(b"\x89PNG")

    # Promoted, it names the next uploads.
    await ok(
        await wl.client.post(f"/v1/models/{first['id']}/promote", headers=bearer(manager)), 200
    )
    await _serving(wl, first["name"], first["version"])
    named, versions = await _named_by(wl, admin, site.device_token, deployments[1], seed=50_000)
    assert [a["scientific_name"] for a in named] == list(SPECIES), named
    assert versions == {first["version"]}

    # The annotator confirms its answers; a second model goes on from the first's weights,
    # learns from them too, and is evaluated beside the first on the same test split.
    for animal in named:
        await ok(
            await wl.client.post(
                f"/v1/projects/{pid}/observations/{animal['id']}/validate",
                headers=bearer(annotator),
            ),
            200,
        )
    second_job = await _train(
        wl, manager, pid, seed=4, base_weights={"kind": "model", "model_id": first["id"]}
    )
    second = await ok(
        await wl.client.get(f"/v1/models/{second_job['model_id']}", headers=bearer(manager)), 200
    )
    assert second["parent_model_id"] == first["id"]
    compared = await ok(
        await wl.client.get(f"/v1/models/{second['id']}/evaluation", headers=bearer(manager)), 200
    )
    assert compared["champion_model"]["id"] == first["id"]
    assert compared["champion"]["top1"] >= 0.95, compared["champion"]

    await ok(
        await wl.client.post(f"/v1/models/{second['id']}/promote", headers=bearer(manager)), 200
    )
    await _serving(wl, second["name"], second["version"])
    renamed, versions = await _named_by(wl, admin, site.device_token, deployments[2], seed=60_000)
    assert [a["scientific_name"] for a in renamed] == list(SPECIES), renamed
    assert versions == {second["version"]}

    # Rolled back: the first model names uploads again.
    await ok(
        await wl.client.post(
            f"/v1/models/{second['id']}/rollback",
            json={"scope": "project"},
            headers=bearer(manager),
        ),
        200,
    )
    await _serving(wl, first["name"], first["version"])
    again, versions = await _named_by(wl, admin, site.device_token, deployments[3], seed=70_000)
    assert [a["scientific_name"] for a in again] == list(SPECIES), again
    assert versions == {first["version"]}


async def test_a_job_is_refused_before_it_starts_when_its_labels_cannot_make_a_dataset(
    wl: RunningPlatform, admin: str, token_for: Tokens, site: Site, tmp_path: Path
) -> None:
    pid = site.project_id
    manager = token_for("marta", {pid: "manager"})
    request = {"project_id": pid, "architecture": "resnet18", "label_spec": SPEC}

    malformed = await wl.client.post(
        "/v1/training-jobs",
        json={**request, "label_spec": {"classes": {"heron": {"taxa": []}}}},
        headers=bearer(manager),
    )
    assert malformed.status_code == 422, malformed.text
    assert "label spec is malformed" in malformed.json()["detail"]

    empty = await wl.client.post("/v1/training-jobs", json=request, headers=bearer(manager))
    assert empty.status_code == 422, empty.text
    assert "empty" in empty.json()["detail"]

    listed = await ok(
        await wl.client.get(f"/v1/training-jobs?project_id={pid}", headers=bearer(manager)), 200
    )
    assert listed["items"] == []
