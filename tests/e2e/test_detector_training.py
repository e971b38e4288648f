"""A detector trained from people's boxes, through the public API: generated scenes of three
kinds of object (a disc, a square, a triangle, each a species) on textured ground at five
locations are uploaded and an expert boxes and names each object; a ``detector`` job builds
its dataset from the whole frames, split by location, trains, evaluates with COCO mAP,
exports (ONNX checked against torch) and registers a candidate; a manager promotes it and it
finds the object in the next upload, whose box reaches the catalogue like any detector's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from tests.support.api import bearer, ok, post_media
from tests.support.factories import Deployments, Sites, Tokens
from tests.support.marshes import add_marshes
from tests.support.platform import RunningPlatform, eventually, get_media
from tests.support.scenes import SCENE_KINDS, scene
from tests.support.training_runs import ended_job

# Training is most of it: more than the suite's five minutes where the machine is shared.
pytestmark = [pytest.mark.tiny_detector, pytest.mark.timeout(600)]

SPECIES = ("Asterias rubens", "Cancer pagurus", "Pecten maximus")
SPEC: dict[str, Any] = {
    "classes": {
        kind: {"taxa": [{"name": taxon}]} for kind, taxon in zip(SCENE_KINDS, SPECIES, strict=True)
    },
    "min_count": 3,
}
LOCATIONS = 5
PER_KIND = 10
HYPERPARAMETERS = {
    "epochs": 36,
    "batch_size": 8,
    "image_size": 128,
    "patience": 36,
    "learning_rate": 0.003,
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # The network is small and the machines that run the suite are shared: threads that wait
    # on each other for a core cost more than they bring.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _iou(a: list[float], b: tuple[float, float, float, float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


async def _upload(wl: RunningPlatform, device: str, deployment: str, data: bytes) -> str:
    body = await ok(
        await post_media(
            wl.client, device, data=data, filename="scene.jpg", fields={"deployment_id": deployment}
        ),
        202,
    )
    return str(body["media_id"])


async def _media(wl: RunningPlatform, token: str, media_id: str, *, analysed: bool) -> Any:
    async def probe() -> dict[str, Any] | None:
        media = await get_media(wl.client, token, media_id)
        if media is None or (analysed and media["status"] != "analyzed"):
            return None
        return media

    return await eventually(probe, timeout=90)


async def test_boxes_people_drew_train_the_detector_that_finds_the_next_upload(
    wl: RunningPlatform,
    admin: str,
    token_for: Tokens,
    new_site: Sites,
    new_deployment: Deployments,
) -> None:
    site = await new_site()
    deployments = [site.deployment_id] + [
        d for _, _, d in await add_marshes(wl, admin, site, new_deployment, LOCATIONS - 1)
    ]
    pid = site.project_id
    manager = token_for("marta", {pid: "manager"})

    # Every frame boxed and named by an expert.
    for n, deployment in enumerate(deployments):
        for kind in range(len(SCENE_KINDS)):
            for k in range(PER_KIND):
                data, box = scene(kind, 1000 * n + 100 * kind + k)
                media_id = await _upload(wl, site.device_token, deployment, data)
                await _media(wl, admin, media_id, analysed=False)
                await ok(
                    await wl.client.post(
                        f"/v1/projects/{pid}/media/{media_id}/observations",
                        json={
                            "observation_type": "animal",
                            "scientific_name": SPECIES[kind],
                            "bbox": list(box),
                        },
                        headers=bearer(admin),
                    ),
                    201,
                )

    job = await ok(
        await wl.client.post(
            "/v1/training-jobs",
            json={
                "project_id": pid,
                "kind": "detector",
                "label_spec": SPEC,
                "architecture": "fcos_mobilenet_v3_small",
                "hyperparameters": HYPERPARAMETERS,
                "seed": 1,
            },
            headers=bearer(manager),
        ),
        202,
    )
    assert job["kind"] == "detector"

    finished = await ended_job(wl.client, manager, job["id"], timeout=400)
    assert finished["status"] == "succeeded", finished
    assert any("exported to ONNX" in line for line in finished["log_tail"]), finished
    model = await ok(
        await wl.client.get(f"/v1/models/{finished['model_id']}", headers=bearer(manager)), 200
    )
    assert (model["kind"], model["stage"]) == ("detector", "candidate")

    report = await ok(
        await wl.client.get(f"/v1/models/{model['id']}/evaluation", headers=bearer(manager)), 200
    )
    challenger = report["challenger"]
    assert challenger["map_50"] >= 0.5, (challenger, finished["log_tail"])
    assert 0 <= challenger["map_50_95"] <= challenger["map_50"]
    assert set(challenger["per_class_ap_50"]) == set(SCENE_KINDS)
    assert challenger["per_location"], challenger
    assert challenger["recall"] is not None
    assert report["model_card"]["classes"] == list(SCENE_KINDS)
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
    assert {s for found in splits.values() for s in found} >= {"train", "test"}

    # Promoted, it is the project's detector: the next upload's object is found by it.
    await ok(
        await wl.client.post(f"/v1/models/{model['id']}/promote", headers=bearer(manager)), 200
    )

    async def serving() -> bool:
        models = (await wl.client.get("/readyz")).json()["services"]["inference"]["models"]
        return any((m["name"], m["version"]) == (model["name"], model["version"]) for m in models)

    await eventually(serving, timeout=60)
    data, box = scene(1, 99_000)
    media_id = await _upload(wl, site.device_token, deployments[0], data)
    media = await _media(wl, admin, media_id, analysed=True)
    assert {a["model_version"] for a in media["analyses"]} == {model["version"]}, media
    animals = [o for o in media["observations"] if o["observation_type"] == "animal"]
    assert animals, media
    best = max(animals, key=lambda o: o["confidence"] or 0)
    assert _iou(best["bbox"], box) >= 0.5, (best, box)


async def test_a_job_whose_architecture_is_not_of_its_kind_is_refused(
    wl: RunningPlatform, token_for: Tokens, new_site: Sites
) -> None:
    site = await new_site()
    manager = token_for("marta", {site.project_id: "manager"})
    request = {"project_id": site.project_id, "label_spec": SPEC}
    for kind, architecture, base in (
        ("detector", "resnet18", {"kind": "none"}),
        ("classifier", "fcos_mobilenet_v3_small", {"kind": "none"}),
        ("detector", "fcos_resnet18", {"kind": "model", "model_id": site.project_id}),
    ):
        refused = await wl.client.post(
            "/v1/training-jobs",
            json={**request, "kind": kind, "architecture": architecture, "base_weights": base},
            headers=bearer(manager),
        )
        assert refused.status_code == 422, refused.text
        assert kind in refused.json()["detail"] or "detector job" in refused.json()["detail"]
