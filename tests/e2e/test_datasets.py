"""Datasets from the labels people confirmed, through the public API on both backends: images
at several locations are uploaded and labelled, a manager builds a dataset, and its manifest,
its crops (square, without EXIF), its split (no location in two splits), its counts and its
COCO export (no exact coordinates of a sensitive place for a caller without
precise_locations) are as asked; a malformed spec, an empty dataset and a class below its
minimum are refused before anything is stored."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.e2e.test_classification import TREE
from tests.e2e.test_taxa import import_tree
from tests.support.api import Site, bearer, ok, post_media
from tests.support.factories import Deployments, Sites
from tests.support.marshes import add_marshes
from tests.support.platform import RunningPlatform, download, eventually, get_media, user_token
from wildlens.common.events.v1.citsci_pb2 import CitsciConsensus, ConsensusBox, ConsensusLabel
from wildlens.common.settings import Settings

# citsci publishes the volunteers' consensus a dataset may take.
pytestmark = pytest.mark.services("catalogue", "ingest", "training", "citsci")

SPECIES = ("Ardea cinerea", "Ardea alba", "Anas platyrhynchos")
TINTS = ((200, 60, 60), (60, 200, 60), (60, 60, 200))
LOCATIONS = 6
# The location create_site makes, a pond in Belgium: herons there make it a sensitive place.
POND = "B_DM_val 4_'t WAD"
EXACT = (50.699, 4.013)
# Heron and duck classes: the two Ardea species merged by their genus, the mallard renamed.
SPEC: dict[str, Any] = {
    "classes": {
        "heron": {"taxa": [{"name": "Ardea", "rank": "genus"}]},
        "duck": {"taxa": [{"name": "Anas platyrhynchos"}]},
    },
    "min_count": 2,
}


def _image(species: int, seed: int, box: tuple[float, float, float, float], when: str) -> bytes:
    """A 160x120 scene with a tinted animal in ``box``, its capture time and a camera serial
    in EXIF."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(60, 120, size=(120, 160, 3)).astype(np.uint8)
    x, y, w, h = box
    pixels[round(y * 120) : round((y + h) * 120), round(x * 160) : round((x + w) * 160)] = TINTS[
        species
    ]
    exif = Image.Exif()
    exif[0x010F] = "TrailCam"
    exif.get_ifd(0x8769)[0x9003] = when
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="JPEG", exif=exif, quality=95)
    return out.getvalue()


async def _label(wl: RunningPlatform, token: str, pid: str, media_id: str, name: str) -> str:
    box = [0.3, 0.25, 0.25, 0.4]
    labelled = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/media/{media_id}/observations",
            json={"observation_type": "animal", "scientific_name": name, "bbox": box},
            headers=bearer(token),
        ),
        201,
    )
    return str(labelled["id"])


async def _survey(
    wl: RunningPlatform, admin: str, new_site: Sites, new_deployment: Deployments
) -> tuple[Site, dict[str, str], str]:
    """A project with six locations, each with one image of each species labelled by an
    annotator, and one more observation there that people doubted. Answers the site, the
    location names by id, and the doubted observation."""
    site = await new_site()
    pid = site.project_id
    names = {site.location_id: POND}
    deployments = [site.deployment_id]
    for location_id, name, deployment_id in await add_marshes(
        wl, admin, site, new_deployment, LOCATIONS - 1
    ):
        names[location_id] = name
        deployments.append(deployment_id)
    posted: list[tuple[str, int]] = []
    for n, deployment in enumerate(deployments):
        day = "2021:04:01" if n == 0 else f"2021:05:{n * 3 + 1:02d}"
        for species in range(3):
            data = _image(
                species, 100 * n + species, (0.3, 0.25, 0.25, 0.4), f"{day} 0{species}:00:00"
            )
            accepted = await ok(
                await post_media(
                    wl.client, site.device_token, data=data, fields={"deployment_id": deployment}
                ),
                202,
            )
            posted.append((accepted["media_id"], species))
    for media_id, _ in posted:

        async def recorded(m: str = media_id) -> dict[str, Any] | None:
            return await get_media(wl.client, admin, m)

        await eventually(recorded)
    for media_id, species in posted:
        await _label(wl, admin, pid, media_id, SPECIES[species])
    # One more mallard that people doubted: it is no training example.
    doubted = await _label(wl, admin, pid, posted[0][0], "Anas platyrhynchos")
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/observations/{doubted}/dubious", headers=bearer(admin)
        ),
        200,
    )
    return site, names, doubted


async def _crops(wl: RunningPlatform) -> list[str]:
    return sorted(info.key for info in await wl.platform.store.list("crops/"))


async def test_a_manager_builds_a_dataset_split_by_location_with_clean_square_crops(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    new_site: Sites,
    new_deployment: Deployments,
) -> None:
    taxa = await import_tree(wl.client, admin, TREE)
    site, names, doubted = await _survey(wl, admin, new_site, new_deployment)
    pid = site.project_id
    manager = user_token(settings, "manager-1", {pid: "manager"})
    # Herons are sensitive here: the pond's place is generalised for callers without
    # precise_locations.
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy",
            json={"sensitive_taxa": [taxa["Ardeidae"]]},
            headers=bearer(admin),
        ),
        200,
    )

    created = await ok(
        await wl.client.post(
            "/v1/datasets",
            json={"project_id": pid, "label_spec": SPEC, "seed": 7},
            headers=bearer(manager),
        ),
        201,
    )
    assert created["state"] == "ready"
    assert created["classes"] == ["heron", "duck"]
    assert created["sample_count"] == 3 * LOCATIONS
    assert created["location_count"] == LOCATIONS
    dataset = await ok(
        await wl.client.get(f"/v1/datasets/{created['id']}", headers=bearer(manager)), 200
    )
    assert dataset == created
    counts = dataset["counts"]
    assert set(counts) == {"train", "validation", "test"}
    assert sum(counts[s]["heron"] for s in counts) == 2 * LOCATIONS
    assert sum(counts[s]["duck"] for s in counts) == LOCATIONS
    assert sum(dataset["split_sizes"].values()) == 3 * LOCATIONS
    # Every class in every split: each was seen at six locations.
    assert all(counts[s][c] > 0 for s in counts for c in ("heron", "duck")), counts

    manifest = await ok(
        await wl.client.get(f"/v1/datasets/{created['id']}/manifest", headers=bearer(manager)),
        200,
    )
    samples = manifest["samples"]
    assert len(samples) == 3 * LOCATIONS
    assert doubted not in {s["observation_id"] for s in samples}
    splits_of: dict[str, set[str]] = defaultdict(set)
    for sample in samples:
        splits_of[sample["location_id"]].add(sample["split"])
    assert set(splits_of) == set(names)
    assert all(len(found) == 1 for found in splits_of.values()), splits_of
    assert Counter(s["split"] for s in samples) == {
        s: n for s, n in dataset["split_sizes"].items() if n
    }
    by_class = {s["scientific_name"]: s["class"] for s in samples}
    assert by_class == {
        "Ardea cinerea": "heron",
        "Ardea alba": "heron",
        "Anas platyrhynchos": "duck",
    }
    assert all(s["event_id"] for s in samples)

    # Each crop: stored under crops/<dataset>/<observation>.jpg, square, no EXIF, the animal.
    keys = await _crops(wl)
    assert sorted(s["crop_key"] for s in samples) == [k for k in keys if k.endswith(".jpg")]
    for sample in samples:
        assert sample["crop_key"] == f"crops/{created['id']}/{sample['observation_id']}.jpg"
        data = await wl.platform.store.get_bytes(sample["crop_key"])
        crop = Image.open(io.BytesIO(data))
        assert crop.format == "JPEG"
        assert crop.width == crop.height == sample["crop_size"]
        assert not crop.getexif()
        assert b"TrailCam" not in data
        # 40x48 px box: a square of 48 * 1.3 = 62 px, the animal's tint at its centre.
        assert crop.width == 62
        centre = np.asarray(crop, dtype=int)[31, 31]
        species = SPECIES.index(sample["scientific_name"])
        assert (
            np.abs(
                centre
                - np.array(
                    (200, 60, 60)
                    if species == 0
                    else (60, 200, 60)
                    if species == 1
                    else (60, 60, 200)
                )
            ).max()
            < 30
        )

    # The same seed again: the same split.
    again = await ok(
        await wl.client.post(
            "/v1/datasets",
            json={"project_id": pid, "label_spec": SPEC, "seed": 7},
            headers=bearer(manager),
        ),
        201,
    )
    assert again["counts"] == counts

    # COCO Camera Traps of the crops: the pond generalised for this manager, exact for admins.
    coco = await ok(
        await wl.client.get(f"/v1/datasets/{created['id']}/coco", headers=bearer(manager)), 200
    )
    assert [c["name"] for c in coco["categories"]] == ["heron", "duck"]
    assert len(coco["images"]) == len(coco["annotations"]) == 3 * LOCATIONS
    assert {i["file_name"] for i in coco["images"]} == {
        f"{s['observation_id']}.jpg" for s in samples
    }
    # Each crop downloads from its link, as a square JPEG without EXIF.
    fetched = await download(wl, coco["images"][0]["url"])
    assert fetched.status_code == 200
    with Image.open(io.BytesIO(fetched.content)) as crop:
        assert crop.format == "JPEG"
        assert crop.width == crop.height == coco["images"][0]["width"]
        assert not crop.getexif()
    pond = [i for i in coco["images"] if i["location_name"] == POND]
    assert pond
    assert all((i["latitude"], i["longitude"]) != EXACT for i in pond)
    assert all(i["latitude"] == pytest.approx(50.65) for i in pond)
    assert "50.699" not in str(coco)
    precise = await ok(
        await wl.client.get(f"/v1/datasets/{created['id']}/coco", headers=bearer(admin)), 200
    )
    assert {
        (i["latitude"], i["longitude"]) for i in precise["images"] if i["location_name"] == POND
    } == {EXACT}

    # Other people: a viewer of the project is refused, a stranger does not see it.
    viewer = user_token(settings, "viewer-1", {pid: "viewer"})
    stranger = user_token(settings, "stranger-1", {})
    for path in ("", "/manifest", "/coco"):
        url = f"/v1/datasets/{created['id']}{path}"
        assert (await wl.client.get(url, headers=bearer(viewer))).status_code == 403
        assert (await wl.client.get(url, headers=bearer(stranger))).status_code == 404
    refused = await wl.client.post(
        "/v1/datasets", json={"project_id": pid, "label_spec": SPEC}, headers=bearer(viewer)
    )
    assert refused.status_code == 403, refused.text


async def test_bad_requests_are_refused_before_anything_is_stored(
    wl: RunningPlatform,
    admin: str,
    new_site: Sites,
    new_deployment: Deployments,
) -> None:
    await import_tree(wl.client, admin, TREE)
    site, _, _ = await _survey(wl, admin, new_site, new_deployment)
    pid = site.project_id

    async def post(spec: Any) -> dict[str, Any]:
        response = await wl.client.post(
            "/v1/datasets", json={"project_id": pid, "label_spec": spec}, headers=bearer(admin)
        )
        assert response.status_code == 422, response.text
        return dict(response.json())

    malformed = await post({"classes": {"heron": {"taxa": []}}, "rollup": "genera"})
    assert malformed["error"] == "Invalid"
    located = {tuple(f["location"]) for f in malformed["fields"]}
    assert ("body", "label_spec", "classes", "heron", "taxa") in located
    assert ("body", "label_spec", "rollup") in located
    overlapping = await post(
        {"classes": {"a": {"taxa": [{"name": "Ardea"}]}, "b": {"taxa": [{"name": "ardea"}]}}}
    )
    assert "taxon 'ardea' is in classes 'a' and 'b'" in str(overlapping)

    below = await post(
        {
            **SPEC,
            "classes": {
                **SPEC["classes"],
                "duck": {"taxa": [{"name": "Anas platyrhynchos"}], "min_count": 10},
            },
        }
    )
    assert below["detail"] == "class 'duck' has 6 examples, below its minimum of 10"

    empty = await post({"classes": {"bear": {"taxa": [{"name": "Ursus arctos"}]}}})
    assert "the dataset would be empty" in empty["detail"]
    volunteers_only = await post({"confirmed_by": ["volunteer_consensus"]})
    assert "the dataset would be empty" in volunteers_only["detail"]

    assert await _crops(wl) == []


async def test_a_dataset_takes_the_volunteers_consensus_only_when_asked(
    wl: RunningPlatform, admin: str, new_site: Sites, new_deployment: Deployments
) -> None:
    await import_tree(wl.client, admin, TREE)
    site, _, _ = await _survey(wl, admin, new_site, new_deployment)
    pid = site.project_id
    # One more egret nobody but the volunteers has classified, their box on it.
    data = _image(1, 999, (0.3, 0.25, 0.25, 0.4), "2021:04:01 09:00:00")
    accepted = await ok(await post_media(wl.client, site.device_token, data=data), 202)
    media_id = accepted["media_id"]
    await eventually(lambda: get_media(wl.client, admin, media_id))
    event = CitsciConsensus(
        consensus_id="wildlens:wf-1:subject-1",
        version=1,
        subject_id="subject-1",
        media_ids=[media_id],
        project_id=pid,
        workflow_id="wf-1",
        platform="wildlens",
        labels=[
            ConsensusLabel(scientific_name="Ardea alba", choice="EGRET", votes=5, agreement=1.0)
        ],
        classification_count=5,
        boxes=[ConsensusBox(media_id=media_id, x=0.3, y=0.25, width=0.25, height=0.4, votes=5)],
        retirement_reason="consensus",
        method="plurality",
    )
    await wl.platform.contexts["citsci"].publish([event])

    async def written() -> str | None:
        media = await get_media(wl.client, admin, media_id)
        found = [
            o["id"]
            for o in (media or {}).get("observations", [])
            if o["classified_by"] == "volunteers:wildlens"
        ]
        return found[0] if found else None

    observation_id = await eventually(written)

    async def samples(confirmed_by: list[str]) -> set[str]:
        spec = {**SPEC, "confirmed_by": confirmed_by}
        created = await ok(
            await wl.client.post(
                "/v1/datasets", json={"project_id": pid, "label_spec": spec}, headers=bearer(admin)
            ),
            201,
        )
        manifest = await ok(
            await wl.client.get(f"/v1/datasets/{created['id']}/manifest", headers=bearer(admin)),
            200,
        )
        return {s["observation_id"] for s in manifest["samples"]}

    with_volunteers = await samples(["expert", "volunteer_consensus"])
    experts_only = await samples(["expert"])
    assert observation_id in with_volunteers
    assert observation_id not in experts_only
    assert with_volunteers - experts_only == {observation_id}
