"""Camera clocks and deployment corrections, as an ecologist meets them: a wrong offset or a
drifting clock corrected after the fact re-times the camera's media (and only those), media
move into and out of the deployment as their times now say, each change is announced again,
and media no deployment covered yet are placed once one is added."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.support.api import Site, bearer, create_site, ok, post_media
from tests.support.factories import Deployments, Sites
from tests.support.platform import RunningPlatform, eventually, get_media, user_token
from wildlens.common.bus import Subscription
from wildlens.common.events import unpack
from wildlens.common.events.v1.media_pb2 import MediaRecorded
from wildlens.common.settings import Settings

EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003

# Media go up through ingest to the catalogue; nothing here needs the other services.
pytestmark = pytest.mark.services("catalogue", "ingest")


def exif_jpeg(local_time: str, shade: int) -> bytes:
    """A small JPEG whose camera wrote ``local_time`` (EXIF ``YYYY:MM:DD HH:MM:SS``) and no
    offset, as trail cameras do; ``shade`` makes its bytes (and so its media id) its own."""
    image = Image.new("RGB", (64, 48), (shade % 256, (shade * 7) % 256, 90))
    exif = Image.Exif()
    exif[0x010F] = "RECONYX"
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = local_time
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def upload(wl: Any, token: str, data: bytes, **fields: str) -> str:
    body = await ok(await post_media(wl.client, token, data=data, fields=fields), 202)
    return str(body["media_id"])


async def recorded(wl: Any, admin: str, media_id: str) -> dict[str, Any]:
    media: dict[str, Any] = await eventually(lambda: get_media(wl.client, admin, media_id))
    return media


async def patch(wl: Any, admin: str, site: Site, deployment_id: str, **body: Any) -> Any:
    return await wl.client.patch(
        f"/v1/projects/{site.project_id}/deployments/{deployment_id}",
        json=body,
        headers=bearer(admin),
    )


async def camera_without_deployment(wl: Any, admin: str) -> Site:
    """A project with a location and a camera whose gateway posts before anyone has entered
    the deployment."""
    h = bearer(admin)
    project = await ok(await wl.client.post("/v1/projects", json={"name": "Late"}, headers=h), 201)
    pid = project["id"]
    location = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/locations",
            json={"name": "Pond 4", "latitude": 50.7, "longitude": 4.0, "region": "BE"},
            headers=h,
        ),
        201,
    )
    device = await ok(
        await wl.client.post(f"/v1/projects/{pid}/devices", json={"serial": "HF2-LATE"}, headers=h),
        201,
    )
    issued = await ok(
        await wl.client.post(f"/v1/projects/{pid}/devices/{device['id']}/token", headers=h), 201
    )
    return Site(pid, location["id"], device["id"], "", issued["token"])


def watch_recorded(wl: Any) -> dict[str, list[MediaRecorded]]:
    """Every ``media.recorded`` the catalogue publishes from now on, by media id."""
    seen: dict[str, list[MediaRecorded]] = {}

    async def handler(envelopes: list[Any]) -> None:
        for envelope in envelopes:
            message = unpack(envelope, MediaRecorded)
            seen.setdefault(message.media_id, []).append(message)

    wl.platform.bus.subscribe(
        Subscription(group="observer", event_type="media.recorded", handler=handler)
    )
    return seen


async def test_correcting_the_offset_retimes_camera_media_but_not_times_the_request_gave(
    wl: RunningPlatform,
    admin: str,
    heron_images: list[Path],
    heron_timestamps: dict[str, datetime],
    new_site: Sites,
) -> None:
    seen = watch_recorded(wl)
    await wl.platform.bus.declared()
    site = await new_site()
    herons = [await upload(wl, site.device_token, p.read_bytes()) for p in heron_images[:2]]
    given = await upload(
        wl,
        site.device_token,
        exif_jpeg("2021:04:05 13:00:00", 1),
        captured_at="2021-04-05T12:00:00+00:00",
    )
    before = {m: await recorded(wl, admin, m) for m in [*herons, given]}
    for media_id, image in zip(herons, heron_images, strict=False):
        # Read with the deployment's clock (+01:00), as the Camtrap DP example has them.
        assert utc(before[media_id]["captured_at"]) == heron_timestamps[image.name]
        assert before[media_id]["captured_at_source"] == "exif"

    # The camera was really on UTC: every reading is an hour later than we thought.
    corrected = await ok(await patch(wl, admin, site, site.deployment_id, utc_offset="+00:00"), 200)
    assert corrected["utc_offset"] == "+00:00"
    assert corrected["media_retimed"] == 2
    assert corrected["media_moved_in"] == corrected["media_moved_out"] == 0
    assert corrected["media_announced"] == 2

    for media_id in herons:
        after = await get_media(wl.client, admin, media_id)
        assert after is not None
        moved = utc(after["captured_at"]) - utc(before[media_id]["captured_at"])
        assert moved == timedelta(hours=1)
        assert after["deployment_id"] == site.deployment_id
    untouched = await get_media(wl.client, admin, given)
    assert untouched is not None
    assert utc(untouched["captured_at"]) == utc("2021-04-05T12:00:00+00:00")

    # Inference (and anyone listening) hears each re-timed medium again, with its new time.
    async def announced() -> bool:
        return all(len(seen.get(m, [])) >= 2 for m in herons)

    await eventually(announced)
    for media_id in herons:
        latest = seen[media_id][-1]
        assert latest.deployment_id == site.deployment_id
        assert latest.location_id == site.location_id
        assert latest.captured_at.ToDatetime(tzinfo=UTC) == utc(
            before[media_id]["captured_at"]
        ) + timedelta(hours=1)

    # The camera really stood at another location: every medium is announced there.
    moved_to = await ok(
        await wl.client.post(
            f"/v1/projects/{site.project_id}/locations",
            json={"name": "Pond 5", "latitude": 50.71, "longitude": 4.02, "region": "NL"},
            headers=bearer(admin),
        ),
        201,
    )
    relocated = await ok(
        await patch(wl, admin, site, site.deployment_id, location_id=moved_to["id"]), 200
    )
    assert relocated["location_id"] == moved_to["id"]
    assert (relocated["media_retimed"], relocated["media_announced"]) == (0, 3)

    async def relocated_everywhere() -> bool:
        return all(
            seen.get(m) and seen[m][-1].location_id == moved_to["id"] for m in [*herons, given]
        )

    await eventually(relocated_everywhere)
    assert {seen[m][-1].region for m in [*herons, given]} == {"NL"}
    # The medium whose time was given by hand was announced when recorded and on the move,
    # never by the re-timing (which would have been heard before the move: one queue, in order).
    assert [m.location_id for m in seen[given]] == [site.location_id, moved_to["id"]]


async def test_a_drifting_clock_is_corrected_linearly_and_brings_media_back_into_the_span(
    wl: RunningPlatform, admin: str
) -> None:
    site = await create_site(
        wl.client,
        admin,
        start="2021-04-01T00:00:00+00:00",
        end="2021-04-11T00:00:00+00:00",
        utc_offset="+00:00",
    )
    # Halfway through, and a reading 100 s after the end: the camera ran fast.
    halfway = await upload(wl, site.device_token, exif_jpeg("2021:04:06 00:00:50", 2))
    last = await upload(wl, site.device_token, exif_jpeg("2021:04:11 00:01:40", 3))
    assert utc((await recorded(wl, admin, halfway))["captured_at"]) == utc(
        "2021-04-06T00:00:50+00:00"
    )
    outside = await recorded(wl, admin, last)
    assert outside["deployment_id"] is None
    assert "no deployment" in outside["resolution_issue"]

    # Checked at the end of the deployment, the clock was 100 s ahead.
    corrected = await ok(
        await patch(wl, admin, site, site.deployment_id, clock_drift_seconds=100), 200
    )
    assert corrected["clock_drift_seconds"] == 100
    assert corrected["media_retimed"] == 1
    assert corrected["media_moved_in"] == 1

    middle = await get_media(wl.client, admin, halfway)
    assert middle is not None
    # Half the span, half the drift: 50 s earlier.
    assert utc(middle["captured_at"]) == utc("2021-04-06T00:00:00+00:00")
    end = await get_media(wl.client, admin, last)
    assert end is not None
    assert end["deployment_id"] == site.deployment_id
    assert end["resolution_issue"] == ""
    assert end["captured_at_source"] == "exif"
    assert utc(end["captured_at"]) == utc("2021-04-11T00:00:00+00:00")

    # Shortening the deployment moves the last medium out again, flagged.
    shortened = await ok(
        await patch(
            wl,
            admin,
            site,
            site.deployment_id,
            end="2021-04-10T00:00:00+00:00",
            clock_checked_at="2021-04-11T00:00:00+00:00",
        ),
        200,
    )
    assert shortened["media_moved_out"] == 1
    gone = await get_media(wl.client, admin, last)
    assert gone is not None
    assert gone["deployment_id"] is None
    assert "no deployment" in gone["resolution_issue"]


async def test_media_posted_before_their_deployment_are_kept_flagged_then_placed(
    wl: RunningPlatform, admin: str, new_deployment: Deployments
) -> None:
    site = await camera_without_deployment(wl, admin)
    early = [
        await upload(wl, site.device_token, exif_jpeg(f"2021:05:02 08:00:{s:02d}", 10 + s))
        for s in (0, 20)
    ]
    stray = await upload(wl, site.device_token, exif_jpeg("2021:07:01 12:00:00", 40))
    for media_id in [*early, stray]:
        media = await recorded(wl, admin, media_id)
        assert media["deployment_id"] is None
        assert media["captured_at"] is None  # no clock to read the camera's time with
        assert media["resolution_issue"] == "no deployment of the camera covers the capture time"

    created = await new_deployment(
        site,
        start="2021-05-01T00:00:00+02:00",
        end="2021-06-01T00:00:00+02:00",
        utc_offset="+02:00",
    )
    for media_id, second in zip(early, (0, 20), strict=True):
        placed = await get_media(wl.client, admin, media_id)
        assert placed is not None
        assert placed["deployment_id"] == created["id"]
        assert placed["resolution_issue"] == ""
        assert utc(placed["captured_at"]) == datetime(2021, 5, 2, 6, 0, second, tzinfo=UTC)
    still = await get_media(wl.client, admin, stray)
    assert still is not None
    assert still["deployment_id"] is None
    assert still["resolution_issue"] != ""

    # The two placed media are one event of the new deployment.
    events = await ok(
        await wl.client.get(
            f"/v1/projects/{site.project_id}/events",
            params={"deployment_id": created["id"]},
            headers=bearer(admin),
        ),
        200,
    )
    assert [e["media_count"] for e in events["items"]] == [2]


async def test_an_sd_card_posted_before_its_camera_was_registered_is_placed_by_serial(
    wl: RunningPlatform, admin: str, heron_images: list[Path], heron_timestamps: dict[str, datetime]
) -> None:
    h = bearer(admin)
    project = await ok(await wl.client.post("/v1/projects", json={"name": "SD"}, headers=h), 201)
    pid = project["id"]
    card = heron_images[:2]
    posted = [await upload(wl, admin, image.read_bytes(), project_id=pid) for image in card]
    for media_id in posted:
        media = await recorded(wl, admin, media_id)
        assert media["deployment_id"] is None
        assert media["device_id"] is None
        assert "serial number" in media["resolution_issue"]

    location = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/locations",
            json={"name": "B_DM_val 4", "latitude": 50.699, "longitude": 4.013},
            headers=h,
        ),
        201,
    )
    # The serial the Reconyx wrote into its maker notes.
    device = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/devices", json={"serial": "H2RXEM06043616"}, headers=h
        ),
        201,
    )
    deployment = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/deployments",
            json={
                "location_id": location["id"],
                "device_id": device["id"],
                "start": "2021-03-27T21:38:18+01:00",
                "end": "2021-04-18T22:25:00+01:00",
                "utc_offset": "+01:00",
            },
            headers=h,
        ),
        201,
    )
    for media_id, image in zip(posted, card, strict=True):
        placed = await get_media(wl.client, admin, media_id)
        assert placed is not None
        assert placed["deployment_id"] == deployment["id"]
        assert placed["device_id"] == device["id"]
        assert placed["resolution_issue"] == ""
        assert utc(placed["captured_at"]) == heron_timestamps[image.name]


async def test_corrections_are_checked_and_scoped(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site, new_site: Sites
) -> None:
    other = await new_site(name="Other project")
    url = f"/v1/projects/{site.project_id}/deployments/{site.deployment_id}"
    h = bearer(admin)
    for body, says in [
        ({}, "at least one field"),
        ({"utc_offset": "CET"}, "utc_offset"),
        ({"end": "2021-03-01T00:00:00+00:00"}, "end must be after start"),
        ({"clock_drift_seconds": 10, "clock_checked_at": "2021-03-01T00:00:00+00:00"}, "after"),
        ({"start": None}, "start cannot be null"),
        ({"start": "2021-04-01T00:00:00"}, "start"),
        ({"color": "red"}, "color"),
    ]:
        response = await wl.client.patch(url, json=body, headers=h)
        assert response.status_code == 422, (body, response.text)
        assert says in response.text, (body, response.text)
    # Nothing of a refused correction stays behind.
    unchanged = await ok(await wl.client.get(url, headers=h), 200)
    assert unchanged["utc_offset"] == "+01:00"
    assert unchanged["clock_drift_seconds"] == 0

    # Another project's deployment or location is not found; a viewer may not correct.
    foreign = f"/v1/projects/{site.project_id}/deployments/{other.deployment_id}"
    response = await wl.client.patch(foreign, json={"utc_offset": "+00:00"}, headers=h)
    assert response.status_code == 404
    response = await wl.client.patch(url, json={"location_id": other.location_id}, headers=h)
    assert response.status_code == 404
    viewer = user_token(settings, "viewer-1", {site.project_id: "viewer"})
    response = await wl.client.patch(url, json={"utc_offset": "+00:00"}, headers=bearer(viewer))
    assert response.status_code == 403
