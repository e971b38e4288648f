"""Machine results resolved to taxa, and people verifying them: validate, doubt, discard,
correct one observation or a whole event, every change in the history and any earlier state
restorable; a person's label outranks every model version, on both backends."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests.e2e.test_taxa import import_tree
from tests.support.api import Site, bearer, ok, post_media
from tests.support.factories import Sites
from tests.support.platform import RunningPlatform, eventually, get_media, user_token
from wildlens.catalogue.models import Media
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Classification,
    Detection,
    MediaAnalyzed,
    ModelRef,
)
from wildlens.common.settings import Settings

CLASSIFIER = "tiny-classifier"


def analysis(
    media_id: str, project_id: str, version: str, *labels: tuple[str, str, float]
) -> MediaAnalyzed:
    """One model version's result: an animal box per (label, scientific name, probability)."""
    event = MediaAnalyzed(
        media_id=media_id,
        project_id=project_id,
        detector=ModelRef(name="test-detector", version=version),
        classifier=ModelRef(name=CLASSIFIER, version=version),
        detections=[
            Detection(
                category="animal",
                confidence=0.9,
                bbox=BoundingBox(x=0.1 * i, y=0.2, width=0.3, height=0.4),
                classifications=[
                    Classification(label=label, scientific_name=name, confidence=p),
                    Classification(label="other", scientific_name="Aves", confidence=p / 10),
                ],
            )
            for i, (label, name, p) in enumerate(labels)
        ],
    )
    event.analyzed_at.GetCurrentTime()
    return event


async def upload(wl: Any, admin: str, site: Site, images: list[Path]) -> list[str]:
    """Upload ``images`` with the site's gateway token; their ids once the catalogue has them."""
    ids = [
        (await ok(await post_media(wl.client, site.device_token, image), 202))["media_id"]
        for image in images
    ]

    async def recorded() -> bool:
        return all([await get_media(wl.client, admin, m) for m in ids])

    await eventually(recorded)
    return ids


async def analyse(wl: Any, admin: str, *events: MediaAnalyzed) -> None:
    """Publish results the way inference does and wait until each is stored."""
    await wl.platform.contexts["inference"].publish(list(events))

    async def stored() -> bool:
        for event in events:
            media = await get_media(wl.client, admin, event.media_id)
            versions = {a["model_version"] for a in (media or {}).get("analyses", [])}
            if event.detector.version not in versions:
                return False
        return True

    await eventually(stored)


async def media(wl: Any, token: str, media_id: str) -> dict[str, Any]:
    return dict(await ok(await wl.client.get(f"/v1/media/{media_id}", headers=bearer(token)), 200))


async def test_machine_labels_resolve_to_taxa_and_people_outrank_them(
    wl: RunningPlatform, settings: Settings, admin: str, heron_images: list[Path], new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    pid = site.project_id
    annotator = user_token(settings, "ann", {pid: "annotator"})
    viewer = user_token(settings, "viewer", {pid: "viewer"})
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/label-maps/{CLASSIFIER}",
            json={"entries": [{"label": "heron", "taxon_id": taxa["Ardea cinerea"]}]},
            headers=bearer(admin),
        ),
        200,
    )
    a, b, c = await upload(wl, admin, site, heron_images[:3])
    await analyse(
        wl,
        admin,
        # The label map names the taxon, whatever name the bundle gives the label.
        analysis(a, pid, "1.0", ("heron", "Ardea", 0.8)),
        # No map entry: the scientific name is looked up in the tree.
        analysis(b, pid, "1.0", ("mallard", "Anas platyrhynchos", 0.7)),
        # A name the tree does not know stays a name.
        analysis(c, pid, "1.0", ("thing", "Vulpes vulpes", 0.6)),
    )
    (obs_a,) = (await media(wl, viewer, a))["observations"]
    (obs_b,) = (await media(wl, viewer, b))["observations"]
    (obs_c,) = (await media(wl, viewer, c))["observations"]
    assert obs_a["taxon_id"] == taxa["Ardea cinerea"]
    assert obs_b["taxon_id"] == taxa["Anas platyrhynchos"]
    assert (obs_c["taxon_id"], obs_c["scientific_name"]) == (None, "Vulpes vulpes")
    assert obs_a["classification_confidence"] == pytest.approx(0.8)
    assert {o["verification_state"] for o in (obs_a, obs_b, obs_c)} == {"predicted"}

    # An annotator corrects the heron: it is a great egret, two of them, female.
    url = f"/v1/projects/{pid}/observations/{obs_a['id']}"
    corrected = await ok(
        await wl.client.post(
            f"{url}/correct",
            json={"taxon_id": taxa["Ardea alba"], "count": 2, "sex": "female"},
            headers=bearer(annotator),
        ),
        200,
    )
    assert corrected["verification_state"] == "validated"
    assert corrected["scientific_name"] == "Ardea alba"
    assert (corrected["classification_method"], corrected["classified_by"]) == (
        "human",
        "ann",
    )
    assert (corrected["count"], corrected["sex"], corrected["version"]) == (2, "female", 1)

    # A new model version disagrees; the person's label stays the media's label.
    await analyse(wl, admin, analysis(a, pid, "2.0", ("mallard", "Anas platyrhynchos", 0.99)))
    shown = await media(wl, viewer, a)
    assert [(lb["scientific_name"], lb["classification_method"]) for lb in shown["labels"]] == [
        ("Ardea alba", "human")
    ]
    by_id = {o["id"]: o for o in shown["observations"]}
    assert by_id[obs_a["id"]]["current"] is True
    assert by_id[obs_a["id"]]["scientific_name"] == "Ardea alba"
    (newer,) = [o for o in shown["observations"] if o["id"] != obs_a["id"]]
    assert (newer["scientific_name"], newer["current"]) == ("Anas platyrhynchos", False)
    # Without a person's label the newest model version's is the label.
    await analyse(wl, admin, analysis(c, pid, "2.0", ("heron", "", 0.9)))
    assert [lb["taxon_id"] for lb in (await media(wl, viewer, c))["labels"]] == [
        taxa["Ardea cinerea"]
    ]

    # The history holds the machine's label as it was.
    history = await ok(await wl.client.get(f"{url}/history", headers=bearer(viewer)), 200)
    (change,) = history["items"]
    assert (change["version"], change["action"], change["changed_by"]) == (1, "correct", "ann")
    assert change["before"]["scientific_name"] == "Ardea"
    assert change["before"]["classification_method"] == "machine"
    assert change["after"]["taxon_id"] == taxa["Ardea alba"]

    # Doubt, then validate, then go back to the machine's original.
    url_b = f"/v1/projects/{pid}/observations/{obs_b['id']}"
    await ok(await wl.client.post(f"{url_b}/dubious", headers=bearer(annotator)), 200)
    validated = await ok(await wl.client.post(f"{url_b}/validate", headers=bearer(annotator)), 200)
    assert (validated["verification_state"], validated["version"]) == ("validated", 2)
    assert validated["classified_by"] == "ann"
    back = await ok(
        await wl.client.post(f"{url_b}/revert", json={"version": 1}, headers=bearer(annotator)),
        200,
    )
    assert (back["verification_state"], back["classification_method"]) == (
        "dubious",
        "machine",
    )
    back = await ok(
        await wl.client.post(f"{url_b}/revert", json={"version": 0}, headers=bearer(annotator)),
        200,
    )
    assert back["verification_state"] == "predicted"
    assert back["classified_by"] == "test-detector@1.0"
    assert back["version"] == 4
    history = await ok(await wl.client.get(f"{url_b}/history", headers=bearer(viewer)), 200)
    assert [h["action"] for h in history["items"]] == [
        "dubious",
        "validate",
        "revert",
        "revert",
    ]
    page = await ok(await wl.client.get(f"{url_b}/history?limit=3", headers=bearer(viewer)), 200)
    rest = await ok(
        await wl.client.get(
            f"{url_b}/history", params={"cursor": page["next_cursor"]}, headers=bearer(viewer)
        ),
        200,
    )
    assert [h["version"] for h in page["items"] + rest["items"]] == [1, 2, 3, 4]

    # A discarded detection leaves the label and is found by its state.
    url_c = f"/v1/projects/{pid}/observations/{obs_c['id']}"
    await ok(await wl.client.post(f"{url_c}/discard", headers=bearer(annotator)), 200)
    found = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/observations",
            params={"verification_state": "discarded"},
            headers=bearer(viewer),
        ),
        200,
    )
    assert [(o["id"], o["verification_state"]) for o in found["items"]] == [
        (obs_c["id"], "discarded")
    ]
    media_found = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/media",
            params={"verification_state": "validated"},
            headers=bearer(viewer),
        ),
        200,
    )
    assert [m["id"] for m in media_found["items"]] == [a]


async def test_verification_refuses_what_it_cannot_do(
    wl: RunningPlatform, settings: Settings, admin: str, heron_images: list[Path], new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    pid = site.project_id
    (a,) = await upload(wl, admin, site, heron_images[:1])
    await analyse(wl, admin, analysis(a, pid, "1.0", ("heron", "Ardea cinerea", 0.8)))
    (obs,) = (await media(wl, admin, a))["observations"]
    url = f"/v1/projects/{pid}/observations/{obs['id']}"
    viewer = user_token(settings, "viewer", {pid: "viewer"})
    annotator = user_token(settings, "ann", {pid: "annotator"})

    # A viewer may look but not judge, whatever it sends.
    for action, body in [("validate", None), ("correct", {}), ("revert", {"version": -1})]:
        response = await wl.client.post(f"{url}/{action}", json=body, headers=bearer(viewer))
        assert response.status_code == 403, response.text

    async def refused(action: str, body: Any, status: int, word: str) -> None:
        response = await wl.client.post(f"{url}/{action}", json=body, headers=bearer(annotator))
        assert response.status_code == status, response.text
        assert word in response.json()["detail"], response.text

    await refused("correct", {}, 422, "at least one field")
    await refused("correct", {"taxon_id": str(uuid.uuid4())}, 422, "does not exist")
    await refused(
        "correct",
        {"taxon_id": taxa["Ardea alba"], "scientific_name": "Ardea cinerea"},
        422,
        "not Ardea cinerea",
    )
    await refused("correct", {"sex": "unknown"}, 422, "sex")
    await refused("correct", {"count": 0}, 422, "count")
    await refused("correct", {"colour": "grey"}, 422, "colour")
    await refused("revert", {"version": 3}, 404, "versions are 0 to 0")
    # Nothing half-done: the refused requests changed nothing.
    state = await ok(await wl.client.get(url, headers=bearer(annotator)), 200)
    assert (state["verification_state"], state["version"]) == ("predicted", 0)

    # Another project's observation, or an unknown event, is not there.
    theirs = await ok(
        await wl.client.post("/v1/projects", json={"name": "theirs"}, headers=bearer(admin)),
        201,
    )
    response = await wl.client.post(
        f"/v1/projects/{theirs['id']}/observations/{obs['id']}/validate",
        headers=bearer(admin),
    )
    assert response.status_code == 404, response.text
    response = await wl.client.post(
        f"/v1/projects/{pid}/events/{uuid.uuid4()}/validate", headers=bearer(annotator)
    )
    assert response.status_code == 404, response.text


async def event_of(wl: Any, media_id: str) -> str | None:
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        row = (await session.exec(select(Media).where(Media.id == uuid.UUID(media_id)))).one()
        return str(row.event_id) if row.event_id else None


async def test_a_whole_event_is_verified_at_once(
    wl: RunningPlatform, settings: Settings, admin: str, heron_images: list[Path], new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    pid = site.project_id
    annotator = user_token(settings, "ann", {pid: "annotator"})
    ids = await upload(wl, admin, site, heron_images[:3])
    await analyse(
        wl,
        admin,
        *(analysis(m, pid, "1.0", ("mallard", "Anas platyrhynchos", 0.5)) for m in ids),
    )
    # The heron images are one sequence.
    events = set()
    for m in ids:

        async def grouped(media_id: str = m) -> str | None:
            return await event_of(wl, media_id)

        events.add(await eventually(grouped))
    assert len(events) == 1
    (event_id,) = events

    corrected = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/events/{event_id}/correct",
            json={"scientific_name": "Ardea cinerea", "life_stage": "adult"},
            headers=bearer(annotator),
        ),
        200,
    )
    assert len(corrected) == 3
    assert {(o["taxon_id"], o["life_stage"], o["classified_by"]) for o in corrected} == {
        (taxa["Ardea cinerea"], "adult", "ann")
    }
    for m in ids:
        (label,) = (await media(wl, annotator, m))["labels"]
        assert (label["scientific_name"], label["classification_method"]) == (
            "Ardea cinerea",
            "human",
        )
    # The event's smoothed label follows the people now.
    event = await ok(
        await wl.client.get(f"/v1/projects/{pid}/events/{event_id}", headers=bearer(annotator)),
        200,
    )
    label = event["label"]
    assert (label["scientific_name"], label["method"], label["votes"]) == (
        "Ardea cinerea",
        "human",
        3,
    )
    # Validating again changes nothing and records nothing.
    again = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/events/{event_id}/validate", headers=bearer(annotator)
        ),
        200,
    )
    assert {o["version"] for o in again} == {1}
