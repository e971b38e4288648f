"""One image end to end: ingest → catalogue → inference → catalogue, in both modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Site, bearer, ok, post_media
from tests.support.factories import Uploads
from tests.support.platform import (
    RunningPlatform,
    eventually,
    get_media,
    processed_count,
    user_token,
)
from wildlens.common.settings import Settings


@pytest.mark.tiny_detector
async def test_real_camera_trap_images_flow_through(
    wl: RunningPlatform,
    admin: str,
    site: Site,
    upload: Uploads,
    heron_images: list[Path],
    heron_timestamps: dict[str, datetime],
) -> None:
    accepted: dict[str, str] = {}
    for image in heron_images:
        body = await upload(image)
        assert body["duplicate"] is False
        assert len(body["sha256"]) == 64
        accepted[image.name] = body["media_id"]
    assert len(set(accepted.values())) == len(heron_images)

    for name, media_id in accepted.items():
        media = await eventually(partial(_analyzed, wl.client, admin, media_id), timeout=60)
        assert media["deployment_id"] == site.deployment_id
        # EXIF "2021:04:11 20:43:09" read with the deployment's +01:00 camera clock.
        assert datetime.fromisoformat(media["captured_at"]) == heron_timestamps[name]
        assert datetime.fromisoformat(media["captured_at"]).utcoffset() == timedelta(0)
        assert media["captured_at_source"] == "exif"
        assert media["raw_metadata"]["make"] == "RECONYX"
        assert media["width"] == 2048
        assert media["height"] == 1440
        assert [a["model_name"] for a in media["analyses"]] == ["tiny-detector"]
        for observation in media["observations"]:
            x, y, w, h = observation["bbox"]
            assert 0 <= x <= 1
            assert 0 <= y <= 1
            assert 0 < w <= 1
            assert 0 < h <= 1
            assert observation["classification_method"] == "machine"


async def _analyzed(client: Any, token: str, media_id: str) -> dict[str, Any] | None:
    media = await get_media(client, token, media_id)
    return media if media and media["status"] == "analyzed" else None


@pytest.mark.tiny_detector
async def test_detector_finds_the_animal_and_the_box_comes_back_relative(
    wl: RunningPlatform, admin: str, upload: Uploads
) -> None:
    from tests.support.tiny_models import generate_scene

    truth = (0.30, 0.25, 0.35, 0.40)
    scene = generate_scene(800, 600, truth, seed=4242)
    import io

    buffer = io.BytesIO()
    scene.save(buffer, format="JPEG", quality=92)
    body = await upload(
        data=buffer.getvalue(),
        filename="scene.jpg",
        fields={"captured_at": "2021-04-01T12:00:00+02:00"},
    )
    media = await eventually(lambda: _analyzed(wl.client, admin, body["media_id"]), timeout=60)
    # The request's capture time wins and is stored in UTC.
    assert datetime.fromisoformat(media["captured_at"]) == datetime(2021, 4, 1, 10, tzinfo=UTC)
    assert media["captured_at_source"] == "request"
    animals = [o for o in media["observations"] if o["category"] == "animal"]
    assert animals, media
    best = max(animals, key=lambda o: o["confidence"])
    assert _iou(best["bbox"], truth) >= 0.5
    assert best["model_version"] == "0.1.0"


def _iou(a: list[float], b: tuple[float, float, float, float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


async def test_same_bytes_twice_answer_the_same_media_and_publish_nothing_new(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads, heron_images: list[Path]
) -> None:
    first = await upload(heron_images[0])
    second = await upload(heron_images[0])
    assert second == {**first, "duplicate": True}
    media = await eventually(lambda: get_media(wl.client, admin, first["media_id"]))
    # Without a detector, media stay recorded, and inference says why in /readyz.
    assert media["status"] == "recorded"
    ready = (await wl.client.get("/readyz")).json()
    assert "no detector configured" in ready["services"]["inference"]["detail"]
    consumed = await processed_count(wl, "catalogue", "catalogue:media.ingested")
    assert consumed == 1


async def test_other_projects_media_is_not_found_and_device_tokens_cannot_read(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    site: Site,
    upload: Uploads,
    heron_images: list[Path],
) -> None:
    body = await upload(heron_images[1])
    assert await eventually(lambda: get_media(wl.client, admin, body["media_id"]))

    other = await ok(
        await wl.client.post("/v1/projects", json={"name": "other"}, headers=bearer(admin)), 201
    )
    outsider = user_token(settings, "outsider", {other["id"]: "admin"})
    response = await wl.client.get(f"/v1/media/{body['media_id']}", headers=bearer(outsider))
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"
    response = await wl.client.get(f"/v1/projects/{site.project_id}", headers=bearer(outsider))
    assert response.status_code == 404

    member = user_token(settings, "viewer", {site.project_id: "viewer"})
    assert (
        await wl.client.get(f"/v1/media/{body['media_id']}", headers=bearer(member))
    ).status_code == 200

    for path in (f"/v1/media/{body['media_id']}", f"/v1/projects/{site.project_id}"):
        response = await wl.client.get(path, headers=bearer(site.device_token))
        assert response.status_code == 403
        assert "device token" in response.json()["detail"]
    response = await wl.client.post(
        "/v1/projects", json={"name": "x"}, headers=bearer(site.device_token)
    )
    assert response.status_code == 403

    # A device token of one project cannot post into another.
    response = await upload.post(heron_images[2], fields={"project_id": other["id"]})
    assert response.status_code == 403
    # A viewer may read but not upload.
    response = await post_media(
        wl.client, member, heron_images[2], fields={"project_id": site.project_id}
    )
    assert response.status_code == 403


async def test_trace_context_follows_the_image_from_request_to_events(
    wl: RunningPlatform, site: Site, heron_images: list[Path]
) -> None:
    import asyncio

    from wildlens.common.bus import Subscription

    seen: asyncio.Queue[Any] = asyncio.Queue()

    async def watch(envelopes: list[Any]) -> None:
        for envelope in envelopes:
            await seen.put(envelope)

    # A later subscriber of another group sees what the catalogue publishes.
    wl.platform.bus.subscribe(
        Subscription(group="observer", event_type="media.recorded", handler=watch)
    )
    await wl.platform.bus.declared()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await wl.client.post(
        "/v1/media",
        files={"file": ("x.jpg", heron_images[4].read_bytes(), "image/jpeg")},
        headers={
            **bearer(site.device_token),
            "X-Request-ID": "gateway-42",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        },
    )
    assert response.status_code == 202
    assert response.headers["x-request-id"] == "gateway-42"
    envelope = await asyncio.wait_for(seen.get(), timeout=30)
    assert envelope.trace["request_id"] == "gateway-42"
    assert envelope.trace["traceparent"].split("-")[1] == trace_id
    assert envelope.producer.startswith("catalogue@")
