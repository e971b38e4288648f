"""Without a detector, media still reach people: the review queue lists them as not analysed,
an annotator labels one by hand, and readiness says what is going on."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.support.api import Site, bearer, ok
from tests.support.factories import Uploads
from tests.support.platform import RunningPlatform, eventually, get_media, user_token
from wildlens.common.settings import Settings

pytestmark = pytest.mark.services("catalogue", "ingest", "inference")


async def test_media_no_detector_analysed_wait_in_the_review_queue_for_people(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    site: Site,
    upload: Uploads,
    heron_images: list[Path],
) -> None:
    pid = site.project_id
    ready = await ok(await wl.client.get("/readyz"), 200)
    assert "review queue" in ready["services"]["inference"]["detail"]

    first, second = [(await upload(p))["media_id"] for p in heron_images[:2]]
    for media_id in (first, second):
        await eventually(partial(get_media, wl.client, admin, media_id))

    viewer = user_token(settings, "viewer", {pid: "viewer"})
    queue = await ok(await wl.client.get(f"/v1/projects/{pid}/review", headers=bearer(viewer)), 200)
    assert sorted(i["media_id"] for i in queue["items"]) == sorted([first, second])
    for item in queue["items"]:
        assert [r["reason"] for r in item["reasons"]] == ["not_analysed"]
        assert item["score"] == item["reasons"][0]["weight"]
        assert item["captured_at"] is not None

    annotator = user_token(settings, "ann", {pid: "annotator"})
    body = {"observation_type": "animal", "scientific_name": "Ardea cinerea", "count": 2}
    # Viewers look; annotators label.
    refused = await wl.client.post(
        f"/v1/projects/{pid}/media/{first}/observations", json=body, headers=bearer(viewer)
    )
    assert refused.status_code == 403
    labelled = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/media/{first}/observations",
            json={**body, "bbox": [0.1, 0.2, 0.3, 0.4]},
            headers=bearer(annotator),
        ),
        201,
    )
    assert labelled["verification_state"] == "validated"
    assert labelled["classification_method"] == "human"
    assert labelled["classified_by"] == "ann"
    assert labelled["count"] == 2

    # The labelled medium leaves the queue; the other waits on.
    queue = await ok(await wl.client.get(f"/v1/projects/{pid}/review", headers=bearer(viewer)), 200)
    assert [i["media_id"] for i in queue["items"]] == [second]
    medium = await get_media(wl.client, admin, first)
    assert medium is not None
    (observation,) = medium["observations"]
    assert observation["scientific_name"] == "Ardea cinerea"
    assert observation["bbox"] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    history = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/observations/{labelled['id']}/history", headers=bearer(viewer)
        ),
        200,
    )
    assert [(c["action"], c["changed_by"]) for c in history["items"]] == [("label", "ann")]


async def test_a_label_must_name_what_was_seen_and_where_within_the_image(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads, heron_images: list[Path]
) -> None:
    media_id = (await upload(heron_images[0]))["media_id"]
    await eventually(partial(get_media, wl.client, admin, media_id))
    url = f"/v1/projects/{site.project_id}/media/{media_id}/observations"
    for body in (
        {"scientific_name": "Ardea cinerea"},
        {"observation_type": "animal", "bbox": [0.5, 0.5, 0.6, 0.1]},
        {"observation_type": "dragon"},
    ):
        response = await wl.client.post(url, json=body, headers=bearer(admin))
        assert response.status_code == 422, body
    other = (
        f"/v1/projects/{site.project_id}/media/00000000-0000-0000-0000-000000000000/observations"
    )
    missing = await wl.client.post(other, json={"observation_type": "blank"}, headers=bearer(admin))
    assert missing.status_code == 404
    unlabelled = await get_media(wl.client, admin, media_id)
    assert unlabelled is not None
    assert unlabelled["observations"] == []
