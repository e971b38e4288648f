"""Events (sequences) as a user sees them: media grouped by the project's gap, ids that stay
when late media arrive or bridge two events, regrouping after a clock correction, the list
and its filters, and the label smoothed across an event next to each machine label."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.test_deployment_time import exif_jpeg, patch, recorded, upload, utc
from tests.support.api import Site, bearer, create_site, ok
from tests.support.factories import Sites
from tests.support.platform import RunningPlatform, eventually, user_token
from wildlens.catalogue.models import Observation
from wildlens.common.events import new_envelope
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Classification,
    Detection,
    MediaAnalyzed,
    ModelRef,
)
from wildlens.common.settings import Settings

START = datetime(2021, 4, 1, 6, 0, tzinfo=UTC)


def _reading(seconds: int) -> str:
    """The camera's EXIF reading ``seconds`` after 07:00 local (+01:00), i.e. after START."""
    return (datetime(2021, 4, 1, 7, 0) + timedelta(seconds=seconds)).strftime("%Y:%m:%d %H:%M:%S")


async def _events(wl: Any, admin: str, project_id: str, **params: Any) -> list[dict[str, Any]]:
    page = await ok(
        await wl.client.get(
            f"/v1/projects/{project_id}/events", params=params, headers=bearer(admin)
        ),
        200,
    )
    items: list[dict[str, Any]] = page["items"]
    return items


async def _event_of(wl: Any, admin: str, media_id: str) -> str:
    media = await recorded(wl, admin, media_id)
    project_id = media["project_id"]
    for event in await _events(wl, admin, project_id, limit=1000):
        detail = await ok(
            await wl.client.get(
                f"/v1/projects/{project_id}/events/{event['id']}", headers=bearer(admin)
            ),
            200,
        )
        if media_id in [m["id"] for m in detail["media"]]:
            return str(event["id"])
    raise AssertionError(f"media {media_id} is in no event")


async def test_late_media_join_extend_and_bridge_events_keeping_their_ids(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    shade = iter(range(100, 200))

    async def at(seconds: int) -> str:
        media_id = await upload(wl, site.device_token, exif_jpeg(_reading(seconds), next(shade)))
        await recorded(wl, admin, media_id)
        return media_id

    a1, a2 = await at(0), await at(30)
    b1, b2 = await at(120), await at(150)
    first, second = await _event_of(wl, admin, a1), await _event_of(wl, admin, b1)
    assert first != second
    assert await _event_of(wl, admin, a2) == first
    assert [e["media_count"] for e in await _events(wl, admin, site.project_id)] == [2, 2]

    # A late medium inside the first event joins it; one just after the second extends it.
    await at(15)
    await at(200)
    events = await _events(wl, admin, site.project_id)
    assert [(e["id"], e["media_count"]) for e in events] == [(first, 3), (second, 3)]
    assert utc(events[1]["end"]) == START + timedelta(seconds=200)

    # One arriving between them, within the gap of both, merges them under the earlier id.
    bridge = await at(75)
    events = await _events(wl, admin, site.project_id)
    assert [(e["id"], e["media_count"]) for e in events] == [(first, 7)]
    assert await _event_of(wl, admin, bridge) == first
    assert await _event_of(wl, admin, b2) == first
    gone = await wl.client.get(
        f"/v1/projects/{site.project_id}/events/{second}", headers=bearer(admin)
    )
    assert gone.status_code == 404

    # Far later: an event of its own.
    await at(3600)
    events = await _events(wl, admin, site.project_id)
    assert [e["media_count"] for e in events] == [7, 1]
    assert events[0]["id"] == first

    # A clock correction moves every time by an hour: the same groups, the same ids.
    await ok(await patch(wl, admin, site, site.deployment_id, utc_offset="+00:00"), 200)
    shifted = await _events(wl, admin, site.project_id)
    assert [(e["id"], e["media_count"]) for e in shifted] == [
        (e["id"], e["media_count"]) for e in events
    ]
    assert utc(shifted[0]["start"]) == START + timedelta(hours=1)


async def test_the_event_list_filters_and_pages(
    wl: RunningPlatform, admin: str, site: Site, new_site: Sites
) -> None:
    other = await new_site(name="Elsewhere")
    for n, seconds in enumerate((0, 600, 1200)):
        await recorded(
            wl, admin, await upload(wl, site.device_token, exif_jpeg(_reading(seconds), n))
        )
    everything = await _events(wl, admin, site.project_id)
    assert [utc(e["start"]) for e in everything] == [
        START + timedelta(seconds=s) for s in (0, 600, 1200)
    ]
    assert {e["location_id"] for e in everything} == {site.location_id}

    paged: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await ok(
            await wl.client.get(
                f"/v1/projects/{site.project_id}/events", params=params, headers=bearer(admin)
            ),
            200,
        )
        paged += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert paged == [e["id"] for e in everything]

    window = await _events(
        wl,
        admin,
        site.project_id,
        captured_from=(START + timedelta(seconds=300)).isoformat(),
        captured_to=(START + timedelta(seconds=900)).isoformat(),
    )
    assert [e["id"] for e in window] == [everything[1]["id"]]
    assert await _events(wl, admin, site.project_id, deployment_id=site.deployment_id)
    h = bearer(admin)
    url = f"/v1/projects/{site.project_id}/events"
    cases: list[tuple[dict[str, Any], int]] = [
        ({"deployment_id": other.deployment_id}, 404),
        ({"location_id": other.location_id}, 404),
        ({"captured_from": START.isoformat(), "captured_to": START.isoformat()}, 422),
        ({"cursor": "not-a-cursor"}, 422),
        ({"limit": 0}, 422),
    ]
    for params, status in cases:
        response = await wl.client.get(url, params=params, headers=h)
        assert response.status_code == status, (params, response.text)

    # A time range that ends before it starts is named as every other field error is:
    # where, what, what kind; the media list says it the same way.
    backwards = {"captured_from": START.isoformat(), "captured_to": START.isoformat()}
    response = await wl.client.get(url, params=backwards, headers=h)
    assert response.json()["fields"] == [
        {
            "location": ["query", "captured_to"],
            "message": "captured_to must be after captured_from",
            "type": "value_error",
        }
    ]
    media = await wl.client.get(
        f"/v1/projects/{site.project_id}/media", params=backwards, headers=h
    )
    assert media.status_code == 422
    assert [(f["location"], f["type"]) for f in media.json()["fields"]] == [
        (["query", "captured_to"], "value_error")
    ]
    response = await wl.client.get(
        f"/v1/projects/{other.project_id}/events/{everything[0]['id']}", headers=h
    )
    assert response.status_code == 404
    response = await wl.client.get(f"{url}/{uuid.uuid4()}", headers=h)
    assert response.status_code == 404


def _analysis(media_id: str, project_id: str, version: str, *labels: str) -> MediaAnalyzed:
    event = MediaAnalyzed(
        media_id=media_id,
        project_id=project_id,
        detector=ModelRef(name="md", version=version),
        detections=[
            Detection(
                category="animal",
                confidence=0.9,
                bbox=BoundingBox(x=0.1, y=0.1, width=0.3, height=0.3),
                classifications=[Classification(label=n, scientific_name=n, confidence=0.8)],
            )
            for n in labels
        ],
    )
    event.analyzed_at.GetCurrentTime()
    return event


async def _two_herons_and_a_bittern(
    wl: RunningPlatform, admin: str, site: Site, seconds: tuple[int, int, int], *, seed: int
) -> tuple[list[str], str]:
    """Three photos of one event, taken ``seconds`` apart, that the model labels heron, heron,
    bittern: their media ids and their event's id."""
    media = []
    for n, offset in enumerate(seconds):
        media_id = await upload(wl, site.device_token, exif_jpeg(_reading(offset), seed + n))
        await recorded(wl, admin, media_id)
        media.append(media_id)
    event_id = await _event_of(wl, admin, media[0])
    labels = ["Ardea cinerea", "Ardea cinerea", "Botaurus stellaris"]
    await wl.platform.bus.publish(
        [
            new_envelope(_analysis(m, site.project_id, "1.0", label), producer="test")
            for m, label in zip(media, labels, strict=True)
        ]
    )
    return media, event_id


async def test_smoothing_outvotes_a_minority_machine_label_but_never_changes_a_person_s(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    media, event_id = await _two_herons_and_a_bittern(wl, admin, site, (0, 10, 20), seed=50)
    url = f"/v1/projects/{site.project_id}/events/{event_id}"

    async def smoothed_over(count: int) -> dict[str, Any] | None:
        detail: dict[str, Any] = await ok(await wl.client.get(url, headers=bearer(admin)), 200)
        label = detail["label"]
        return detail if label and label["total"] == count else None

    detail = await eventually(lambda: smoothed_over(3))
    assert detail["label"]["scientific_name"] == "Ardea cinerea"
    assert detail["label"]["method"] == "machine"
    assert (detail["label"]["votes"], detail["label"]["total"]) == (2, 3)
    assert abs(detail["label"]["share"] - 2 / 3) < 1e-9
    minority = next(m for m in detail["media"] if m["id"] == media[2])
    (observation,) = minority["observations"]
    # The machine's own label stays; the smoothed one is next to it.
    assert observation["scientific_name"] == "Botaurus stellaris"
    assert observation["smoothed_scientific_name"] == "Ardea cinerea"
    listed = await _events(wl, admin, site.project_id)
    assert listed[0]["label"]["scientific_name"] == "Ardea cinerea"

    # A person says the first image shows a bittern: people outrank the machine, and the
    # person's label itself is never smoothed.
    ctx = wl.platform.contexts["catalogue"]
    async with ctx.db.transaction() as session:
        session.add(
            Observation(
                project_id=uuid.UUID(site.project_id),
                media_id=uuid.UUID(media[0]),
                observation_type="animal",
                category="animal",
                scientific_name="Botaurus stellaris",
                classification_method="human",
                classified_by="expert-1",
            )
        )
    # A newer model's results for the second image make the event count again.
    await wl.platform.bus.publish(
        [new_envelope(_analysis(media[1], site.project_id, "2.0", "Ardea cinerea"), producer="t")]
    )

    async def by_people() -> dict[str, Any] | None:
        detail: dict[str, Any] = await ok(await wl.client.get(url, headers=bearer(admin)), 200)
        return detail if detail["label"]["method"] == "human" else None

    detail = await eventually(by_people)
    assert detail["label"]["scientific_name"] == "Botaurus stellaris"
    first = next(m for m in detail["media"] if m["id"] == media[0])
    person = next(o for o in first["observations"] if o["classification_method"] == "human")
    machine = next(o for o in first["observations"] if o["classification_method"] == "machine")
    assert person["scientific_name"] == "Botaurus stellaris"
    assert person["smoothed_scientific_name"] == ""
    assert machine["scientific_name"] == "Ardea cinerea"
    assert machine["smoothed_scientific_name"] == "Botaurus stellaris"


async def _voted_event(
    wl: RunningPlatform, admin: str, seconds: tuple[int, int, int], *, seed: int
) -> tuple[Site, list[str], str]:
    """A new site whose camera took ``_two_herons_and_a_bittern``, once the event has counted
    all three: the site, the media and the event's address."""
    site = await create_site(
        wl.client,
        admin,
        start="2021-04-01T05:00:00+00:00",
        end="2021-04-02T00:00:00+00:00",
        utc_offset="+01:00",
    )
    media, event_id = await _two_herons_and_a_bittern(wl, admin, site, seconds, seed=seed)
    url = f"/v1/projects/{site.project_id}/events/{event_id}"

    async def voted() -> dict[str, Any] | None:
        detail: dict[str, Any] = await ok(await wl.client.get(url, headers=bearer(admin)), 200)
        return detail if detail["label"] and detail["label"]["total"] == 3 else None

    await eventually(voted)
    return site, media, url


async def test_a_medium_cut_off_by_a_correction_leaves_its_event_and_the_vote(
    wl: RunningPlatform, admin: str
) -> None:
    site, media, url = await _voted_event(wl, admin, (0, 30, 60), seed=70)
    event_id = url.rsplit("/", 1)[1]
    # The camera was collected 45 s after the first image: the last one is not of this
    # deployment.
    end = (START + timedelta(seconds=45)).isoformat()
    corrected = await ok(await patch(wl, admin, site, site.deployment_id, end=end), 200)
    assert corrected["media_moved_out"] == 1

    detail = await ok(await wl.client.get(url, headers=bearer(admin)), 200)
    assert [m["id"] for m in detail["media"]] == media[:2]
    assert detail["media_count"] == 2
    assert utc(detail["end"]) == START + timedelta(seconds=30)
    assert (detail["label"]["scientific_name"], detail["label"]["total"]) == (
        "Ardea cinerea",
        2,
    )
    assert [e["id"] for e in await _events(wl, admin, site.project_id)] == [event_id]


async def test_the_gap_is_the_project_s_own(wl: RunningPlatform, admin: str) -> None:
    h = bearer(admin)
    refused = await wl.client.post(
        "/v1/projects", json={"name": "Bats", "event_gap_s": 0}, headers=h
    )
    assert refused.status_code == 422
    assert "event_gap_s" in refused.text
    project = await ok(
        await wl.client.post(
            "/v1/projects",
            json={"name": "Bats", "event_gap_s": 10, "independence_interval_s": 600},
            headers=h,
        ),
        201,
    )
    assert (project["event_gap_s"], project["independence_interval_s"]) == (10, 600)
    defaults = await ok(await wl.client.post("/v1/projects", json={"name": "D"}, headers=h), 201)
    assert (defaults["event_gap_s"], defaults["independence_interval_s"]) == (60, 1800)

    pid = project["id"]
    location = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/locations",
            json={"name": "Roost", "latitude": 51.0, "longitude": 4.5},
            headers=h,
        ),
        201,
    )
    device = await ok(
        await wl.client.post(f"/v1/projects/{pid}/devices", json={"serial": "BAT-1"}, headers=h),
        201,
    )
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/deployments",
            json={
                "location_id": location["id"],
                "device_id": device["id"],
                "start": "2021-04-01T00:00:00+01:00",
                "utc_offset": "+01:00",
            },
            headers=h,
        ),
        201,
    )
    token = (
        await ok(
            await wl.client.post(f"/v1/projects/{pid}/devices/{device['id']}/token", headers=h),
            201,
        )
    )["token"]
    for n, seconds in enumerate((0, 5, 20)):
        await recorded(wl, admin, await upload(wl, token, exif_jpeg(_reading(seconds), 90 + n)))
    # 15 s apart is within the field's usual minute, but not within this project's 10 s.
    assert [e["media_count"] for e in await _events(wl, admin, pid)] == [2, 1]


async def test_a_new_event_gap_regroups_the_project_keeping_the_earlier_id(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site
) -> None:
    shade = iter(range(100, 200))
    ids = []
    for seconds in (0, 120):
        media_id = await upload(wl, site.device_token, exif_jpeg(_reading(seconds), next(shade)))
        await recorded(wl, admin, media_id)
        ids.append(media_id)
    first, second = await _event_of(wl, admin, ids[0]), await _event_of(wl, admin, ids[1])
    assert first != second

    project_url = f"/v1/projects/{site.project_id}"
    viewer = user_token(settings, "viewer-1", {site.project_id: "viewer"})
    refused = await wl.client.patch(project_url, json={"event_gap_s": 300}, headers=bearer(viewer))
    assert refused.status_code == 403, refused.text
    bad = await wl.client.patch(project_url, json={"event_gap_s": 0}, headers=bearer(admin))
    assert bad.status_code == 422, bad.text
    assert "event_gap_s" in bad.text
    assert len(await _events(wl, admin, site.project_id)) == 2

    project = await ok(
        await wl.client.patch(
            project_url,
            json={"event_gap_s": 300, "data_license": "CC-BY-4.0"},
            headers=bearer(admin),
        ),
        200,
    )
    assert (project["event_gap_s"], project["data_license"]) == (300, "CC-BY-4.0")
    events = await _events(wl, admin, site.project_id)
    assert [(e["id"], e["media_count"]) for e in events] == [(first, 2)]


async def test_deleting_media_narrows_splits_and_ends_their_events_and_their_vote(
    wl: RunningPlatform, admin: str
) -> None:
    # Heron at 0 s, heron at 50 s, bittern at 100 s: one event by the 60 s gap, through the
    # middle photo only.
    site, media, url = await _voted_event(wl, admin, (0, 50, 100), seed=90)
    event_id = url.rsplit("/", 1)[1]

    async def delete(media_id: str) -> None:
        await ok(
            await wl.client.delete(
                f"/v1/projects/{site.project_id}/media/{media_id}", headers=bearer(admin)
            ),
            200,
        )

    # Without the middle photo the other two are 100 s apart: two events, the first keeping
    # its id, and each voting with what it still holds.
    await delete(media[1])
    events = await _events(wl, admin, site.project_id)
    assert [(e["id"] == event_id, e["media_count"]) for e in events] == [(True, 1), (False, 1)]
    assert [(utc(e["start"]), utc(e["end"])) for e in events] == [
        (START, START),
        (START + timedelta(seconds=100), START + timedelta(seconds=100)),
    ]
    first = await ok(await wl.client.get(url, headers=bearer(admin)), 200)
    assert [m["id"] for m in first["media"]] == [media[0]]
    assert (first["label"]["scientific_name"], first["label"]["total"]) == ("Ardea cinerea", 1)
    assert await _event_of(wl, admin, media[2]) == events[1]["id"]
    second = await ok(
        await wl.client.get(
            f"/v1/projects/{site.project_id}/events/{events[1]['id']}", headers=bearer(admin)
        ),
        200,
    )
    assert (second["label"]["scientific_name"], second["label"]["total"]) == (
        "Botaurus stellaris",
        1,
    )

    # An event whose last photo goes, goes with it.
    await delete(media[0])
    assert (await wl.client.get(url, headers=bearer(admin))).status_code == 404
    assert [e["id"] for e in await _events(wl, admin, site.project_id)] == [events[1]["id"]]
