"""Species on the detector's boxes, end to end: a recorded image is answered with the taxon the
project's label map gives the classifier's label, and editing the map changes the next answer
on the running platform (``taxonomy.changed`` reaches inference, which reads the map again)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.test_taxa import heard_one, import_tree, listen
from tests.support.api import Site, bearer, create_site, ok, post_media
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    admin_token,
    eventually,
    get_media,
    running,
    with_group,
)
from tests.support.tiny_models import build_tiny_classifier, generate_species_scene
from wildlens.common.events.v1.taxonomy_pb2 import TaxonomyChanged
from wildlens.common.imaging import square_crop
from wildlens.common.settings import Settings
from wildlens.inference.classification.classifier import Classifier
from wildlens.inference.settings import InferenceSettings
from wildlens.inference.taxonomy.geofence import GEOFENCE_FILE

TREE = (
    "taxonID,parentNameUsageID,scientificName,taxonRank,vernacularName\n"
    "1,,Animalia,kingdom,Animals\n"
    "2,1,Aves,class,Birds\n"
    "3,2,Ardeidae,family,Herons\n"
    "4,3,Ardea,genus,\n"
    "5,4,Ardea cinerea,species,Grey heron\n"
    "6,4,Ardea alba,species,Great egret\n"
    "7,4,Ardea herodias,species,Great blue heron\n"
    "8,4,Ardea purpurea,species,Purple heron\n"
    "9,2,Anatidae,family,Ducks\n"
    "10,9,Anas,genus,\n"
    "11,10,Anas platyrhynchos,species,Mallard\n"
)
GREY_HERON = 0  # the tiny classifier's first label, "grey-heron" (Ardea cinerea in its bundle)
MALLARD = 2
BOX = (0.3, 0.25, 0.35, 0.4)


@pytest.fixture(scope="module")
def tiny_classifier(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("tiny-classifier") if cache is not None else tmp_path_factory.mktemp("tc")
    return build_tiny_classifier(Path(folder))


def _scene(seed: int, species: int = GREY_HERON, blend: float = 0.0) -> bytes:
    image = generate_species_scene(640, 480, BOX, species, seed=seed, blend=blend, towards=MALLARD)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture
def settings(settings_for: SettingsFactory, tiny_detector: Path, tiny_classifier: Path) -> Settings:
    """The platform of this module's tests on fixtures: the tiny detector and classifier."""
    return with_group(
        settings_for(detector=tiny_detector), InferenceSettings, classifier=tiny_classifier
    )


async def _species(
    wl: RunningPlatform, token: str, device_token: str, seed: int, data: bytes | None = None
) -> dict[str, Any]:
    """Upload a grey-heron scene (or ``data``) and answer its animal observation once
    analysed."""
    body = await ok(
        await post_media(
            wl.client,
            device_token,
            data=data if data is not None else _scene(seed),
            filename=f"scene-{seed}.jpg",
            fields={"captured_at": "2021-04-01T12:00:00+02:00"},
        ),
        202,
    )

    async def analysed() -> dict[str, Any] | None:
        media = await get_media(wl.client, token, body["media_id"])
        return media if media and media["status"] == "analyzed" else None

    media = await eventually(analysed, timeout=60)
    assert [a["model_name"] for a in media["analyses"]] == ["tiny-detector"]
    animals = [o for o in media["observations"] if o["category"] == "animal"]
    assert animals, media
    return max(animals, key=lambda o: o["confidence"])


async def test_label_map_gives_the_species_and_an_edit_changes_the_next_answer(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    h = bearer(admin)
    heard = await listen(wl)
    taxa = await import_tree(wl.client, admin, TREE)
    label_maps = f"/v1/projects/{site.project_id}/label-maps/tiny-classifier"

    # Without a map the bundle's own name stands.
    first = await _species(wl, admin, site.device_token, seed=5101)
    assert first["scientific_name"] == "Ardea cinerea"

    # The project's map wins over the bundle.
    entries = [{"label": "grey-heron", "taxon_id": taxa["Ardea herodias"]}]
    await ok(await wl.client.put(label_maps, json={"entries": entries}, headers=h), 200)
    await heard_one(heard, "label_map.updated")
    second = await _species(wl, admin, site.device_token, seed=5102)
    assert second["scientific_name"] == "Ardea herodias"

    # Edited again: the next image is answered with the new taxon.
    entries = [{"label": "grey-heron", "taxon_id": taxa["Ardea purpurea"]}]
    await ok(await wl.client.put(label_maps, json={"entries": entries}, headers=h), 200)
    await _wait_for_two(heard)
    third = await _species(wl, admin, site.device_token, seed=5103)
    assert third["scientific_name"] == "Ardea purpurea"


async def _wait_for_two(heard: list[TaxonomyChanged]) -> None:
    async def probe() -> bool:
        return len([e for e in heard if e.reason == "label_map.updated"]) >= 2

    assert await eventually(probe)


async def test_the_project_taxa_list_and_the_region_geofence_narrow_the_answer(
    settings_for: SettingsFactory, tiny_detector: Path, tiny_classifier: Path, tmp_path: Path
) -> None:
    # The same classifier, shipped with a geofence: great egrets only in France.
    fenced = tmp_path / "fenced-classifier"
    shutil.copytree(tiny_classifier, fenced)
    (fenced / GEOFENCE_FILE).write_text(json.dumps({"Ardea alba": {"allow": {"FR": []}}}))
    settings = with_group(
        settings_for(detector=tiny_detector), InferenceSettings, classifier=fenced
    )
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)  # its location is in Belgium (BE)
        taxa = await import_tree(wl.client, admin, TREE)
        # The project expects great egrets and ducks of the genus Anas, not grey herons.
        listed = {"taxon_ids": [taxa["Ardea alba"], taxa["Anas"]]}
        await ok(
            await wl.client.put(
                f"/v1/projects/{site.project_id}/taxa", json=listed, headers=bearer(admin)
            ),
            200,
        )
        # A grey heron's picture: its species is not on the list, the egret cannot be in
        # Belgium, so of the classifier's labels only the mallard (under the listed genus)
        # is possible, and it takes all the probability.
        observation = await _species(wl, admin, site.device_token, seed=5201)
        assert observation["scientific_name"] == "Anas platyrhynchos"


def _undecided(classifier: Path, heron_over_mallard: tuple[float, float], skip: int = 0) -> bytes:
    """A scene of an animal between a grey heron and a mallard, whose pixels alone make it
    a grey heron ``heron_over_mallard`` (low, high) times as likely as a mallard."""
    model = Classifier.from_path(classifier)
    low, high = heron_over_mallard
    for seed in range(7000 + skip, 7400):
        for blend in (0.45, 0.5, 0.55, 0.4, 0.6):
            data = _scene(seed, blend=blend)
            heron, _, mallard = model.classify([square_crop(Image.open(io.BytesIO(data)), BOX)])[0]
            if low < heron / mallard < high:
                return data
    raise AssertionError("no undecided scene found")


async def _second_site(wl: RunningPlatform, token: str, site: Site) -> str:
    """Another location (and camera) of ``site``'s project; its device token."""
    h, pid = bearer(token), site.project_id
    location = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/locations",
            json={"name": "Reed bed", "latitude": 50.71, "longitude": 4.05, "region": "BE"},
            headers=h,
        ),
        201,
    )
    device = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/devices", json={"serial": "HF2X-REED", "model": "HF2X"}, headers=h
        ),
        201,
    )
    deployment = {
        "location_id": location["id"],
        "device_id": device["id"],
        "start": "2021-03-27T21:38:18+01:00",
        "end": "2021-04-18T22:25:00+01:00",
        "utc_offset": "+01:00",
    }
    await ok(
        await wl.client.post(f"/v1/projects/{pid}/deployments", json=deployment, headers=h), 201
    )
    issued = await ok(
        await wl.client.post(f"/v1/projects/{pid}/devices/{device['id']}/token", headers=h), 201
    )
    return str(issued["token"])


async def test_the_prior_from_verified_sightings_decides_what_the_pixels_cannot(
    settings_for: SettingsFactory, tiny_detector: Path, tiny_classifier: Path
) -> None:
    # Every project gets the prior, learnt afresh for each batch (a test cannot wait).
    settings = with_group(
        settings_for(detector=tiny_detector),
        InferenceSettings,
        classifier=tiny_classifier,
        prior_weights={"*": 1.0},
        prior_refresh_s=0.0,
    )
    # Each leans, by the pixels, the other way than the place it is seen at will decide.
    mallard_ish = _undecided(tiny_classifier, (1 / 1.5, 1.0))
    heron_ish = _undecided(tiny_classifier, (1.0, 1.5), skip=100)
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        await import_tree(wl.client, admin, TREE)
        pond, reeds = site.device_token, await _second_site(wl, admin, site)

        # People confirm grey herons at the pond and mallards in the reeds.
        for n, (camera, species) in enumerate([(pond, GREY_HERON), (reeds, MALLARD)] * 2):
            observation = await _species(
                wl, admin, camera, 0, data=_scene(8000 + n, species=species)
            )
            validate = f"/v1/projects/{site.project_id}/observations/{observation['id']}/validate"
            await ok(await wl.client.post(validate, headers=bearer(admin)), 200)

        # An animal that looks slightly more like a mallard is a grey heron at the pond; one
        # that looks slightly more like a grey heron is a mallard in the reeds.
        at_pond = await _species(wl, admin, pond, 1, data=mallard_ish)
        in_reeds = await _species(wl, admin, reeds, 2, data=heron_ish)
        assert at_pond["scientific_name"] == "Ardea cinerea"
        assert in_reeds["scientific_name"] == "Anas platyrhynchos"


async def test_a_single_object_is_classified_whole_without_a_detector(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    # A project of single objects: each image is one object's whole crop.
    await ok(
        await wl.client.patch(
            f"/v1/projects/{site.project_id}", json={"media_kind": "objects"}, headers=bearer(admin)
        ),
        200,
    )
    scene = generate_species_scene(640, 480, BOX, GREY_HERON, seed=5201)
    vignette = square_crop(scene, BOX, context=0.0)
    buffer = io.BytesIO()
    vignette.save(buffer, format="PNG")
    body = await ok(
        await post_media(wl.client, site.device_token, data=buffer.getvalue(), filename="v.png"),
        202,
    )

    async def analysed() -> dict[str, Any] | None:
        media = await get_media(wl.client, admin, body["media_id"])
        return media if media and media["status"] == "analyzed" else None

    media = await eventually(analysed, timeout=60)
    # No detector ran, and no camera deployment is asked of an object.
    assert [a["model_name"] for a in media["analyses"]] == ["whole-object"]
    assert media["deployment_id"] is None
    assert media["resolution_issue"] == ""
    (observation,) = [o for o in media["observations"] if o["category"] == "animal"]
    assert observation["bbox"] == [0.0, 0.0, 1.0, 1.0]
    assert observation["scientific_name"] == "Ardea cinerea"
