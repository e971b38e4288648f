"""Finding a project's media and observations: every filter, keyset pages in capture order,
access, and image URLs that really download, on the embedded and the real backends."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from sqlmodel import select

from tests.e2e.test_taxa import import_tree
from tests.support.api import Site, bearer, create_site, ok, post_media
from tests.support.factories import Sites, Uploads
from tests.support.platform import RunningPlatform, eventually, user_token
from tests.support.results import analysis, animal
from wildlens.catalogue.models import Media, Observation
from wildlens.common.auth import TokenIssuer, load_keyring
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Detection,
)
from wildlens.common.http import encode_cursor
from wildlens.common.settings import Settings


async def _get(client: Any, url: str, token: str, **params: Any) -> dict[str, Any]:
    response = await client.get(url, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _all(client: Any, url: str, token: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, two at a time, following the cursors."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        extra: dict[str, str] = {"cursor": cursor} if cursor else {}
        page = await _get(client, url, token, limit=2, **params, **extra)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def _setup(wl: Any, admin: str, images: list[Path]) -> dict[str, Any]:
    """A project with four analysed heron images and one image with no capture time."""
    taxa = await import_tree(wl.client, admin)
    site = await create_site(wl.client, admin)
    ids = []
    for image in images[:4]:
        ids.append(
            (await ok(await post_media(wl.client, site.device_token, image), 202))["media_id"]
        )
    blank = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 60)).save(blank, format="JPEG")
    undated = await ok(
        await post_media(wl.client, site.device_token, data=blank.getvalue(), filename="n.jpg"),
        202,
    )
    ids.append(undated["media_id"])

    async def recorded() -> bool:
        for media_id in ids:
            response = await wl.client.get(f"/v1/media/{media_id}", headers=bearer(admin))
            if response.status_code != 200:
                return False
        return True

    await eventually(recorded)
    media = {m: await _get(wl.client, f"/v1/media/{m}", admin) for m in ids}
    heron, duck, person, empty, nodate = ids
    events = [
        analysis(heron, site.project_id, animal(0.9, "Ardea cinerea")),
        analysis(duck, site.project_id, animal(0.4, "Anas platyrhynchos")),
        analysis(
            person,
            site.project_id,
            Detection(
                category="person", confidence=0.8, bbox=BoundingBox(x=0, y=0, width=1, height=1)
            ),
        ),
        analysis(empty, site.project_id),
    ]
    await wl.platform.contexts["inference"].publish(events)

    async def analysed() -> bool:
        for media_id in ids[:4]:
            if (await _get(wl.client, f"/v1/media/{media_id}", admin))["status"] != "analyzed":
                return False
        return True

    await eventually(analysed)
    # A corrected label: resolved to a taxon id, with no name left to match on.
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        row = (
            await session.exec(select(Observation).where(Observation.media_id == uuid.UUID(duck)))
        ).one()
        row.scientific_name = ""
        row.taxon_id = uuid.UUID(taxa["Anas platyrhynchos"])
        row.classification_method = "human"
        session.add(row)
        # A row from before machine labels were resolved to taxa: matched by its name alone.
        older = (
            await session.exec(select(Observation).where(Observation.media_id == uuid.UUID(heron)))
        ).one()
        older.taxon_id = None
        session.add(older)
    return {
        "site": site,
        "taxa": taxa,
        "media": media,
        "heron": heron,
        "duck": duck,
        "person": person,
        "empty": empty,
        "nodate": nodate,
    }


async def test_media_and_observations_are_found_by_every_filter(
    wl: RunningPlatform, settings: Settings, admin: str, heron_images: list[Path]
) -> None:
    s = await _setup(wl, admin, heron_images)
    site, taxa = s["site"], s["taxa"]
    pid = site.project_id
    viewer = user_token(settings, "viewer", {pid: "viewer"})
    media_url = f"/v1/projects/{pid}/media"
    obs_url = f"/v1/projects/{pid}/observations"

    async def media_ids(**params: Any) -> set[str]:
        return {m["id"] for m in await _all(wl.client, media_url, viewer, **params)}

    async def obs_media(**params: Any) -> set[str]:
        return {o["media_id"] for o in await _all(wl.client, obs_url, viewer, **params)}

    everything = await _all(wl.client, media_url, viewer)
    assert len(everything) == 5
    # Capture order, ties by id, undated media last.
    keys = [(m["captured_at"] is None, m["captured_at"] or "", m["id"]) for m in everything]
    assert keys == sorted(keys)
    assert everything[-1]["id"] == s["nodate"]
    assert everything[0]["location_id"] == site.location_id

    # A family finds its species, by name or by taxon id; a class finds both families.
    assert await media_ids(taxon_id=taxa["Ardeidae"]) == {s["heron"]}
    assert await media_ids(taxon_id=taxa["Anatidae"]) == {s["duck"]}
    assert await media_ids(taxon_id=taxa["Aves"]) == {s["heron"], s["duck"]}
    assert await media_ids(taxon_id=taxa["Ardea alba"]) == set()
    assert await obs_media(taxon_id=taxa["Aves"]) == {s["heron"], s["duck"]}
    birds = await _all(wl.client, obs_url, viewer, taxon_id=taxa["Aves"])
    assert {o["taxon_id"] for o in birds} == {None, taxa["Anas platyrhynchos"]}

    assert await media_ids(observation_type="human") == {s["person"]}
    assert await obs_media(observation_type="animal") == {s["heron"], s["duck"]}
    assert await media_ids(classification_method="human") == {s["duck"]}
    assert await obs_media(classification_method="machine") == {s["heron"], s["person"]}
    assert await media_ids(min_confidence=0.5) == {s["heron"], s["person"]}
    assert await obs_media(min_confidence=0.3, max_confidence=0.5) == {s["duck"]}
    # The observation filters hold for one and the same observation.
    assert await media_ids(observation_type="human", taxon_id=taxa["Aves"]) == set()

    assert await media_ids(status="recorded") == {s["nodate"]}
    assert await media_ids(status="analyzed") == {
        s["heron"],
        s["duck"],
        s["person"],
        s["empty"],
    }
    assert await media_ids(deployment_id=site.deployment_id) == {
        m for m, body in s["media"].items() if body["deployment_id"] == site.deployment_id
    }
    assert await media_ids(location_id=site.location_id) == await media_ids(
        deployment_id=site.deployment_id
    )

    times = sorted(
        datetime.fromisoformat(b["captured_at"]) for b in s["media"].values() if b["captured_at"]
    )
    first, last = times[0], times[-1]
    window = await media_ids(captured_from=first.isoformat(), captured_to=last.isoformat())
    assert window == {
        m
        for m, b in s["media"].items()
        if b["captured_at"] and first <= datetime.fromisoformat(b["captured_at"]) < last
    }
    assert s["nodate"] not in window
    obs_window = await _all(
        wl.client,
        obs_url,
        viewer,
        captured_from=first.isoformat(),
        captured_to=last.isoformat(),
    )
    assert all(first <= datetime.fromisoformat(o["captured_at"]) < last for o in obs_window)

    heron_obs = (await _get(wl.client, obs_url, viewer, taxon_id=taxa["Ardea cinerea"]))["items"]
    assert len(heron_obs) == 1
    assert heron_obs[0]["bbox"] == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=1e-6)
    assert heron_obs[0]["deployment_id"] == s["media"][s["heron"]]["deployment_id"]


async def test_filters_are_checked_and_access_is_scoped(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    site: Site,
    heron_images: list[Path],
    new_site: Sites,
) -> None:
    other = await new_site(serial="OTHER-2", name="Other")
    pid = site.project_id
    viewer = bearer(user_token(settings, "viewer", {pid: "viewer"}))
    outsider = bearer(user_token(settings, "outsider", {other.project_id: "admin"}))
    for path in ("media", "observations"):
        url = f"/v1/projects/{pid}/{path}"
        bad: list[tuple[dict[str, Any], str]] = [
            ({"captured_from": "2021-04-01T10:00:00"}, "captured_from"),
            ({"captured_from": "yesterday"}, "captured_from"),
            (
                {
                    "captured_from": "2021-04-02T00:00:00Z",
                    "captured_to": "2021-04-01T00:00:00Z",
                },
                "captured_to",
            ),
            ({"min_confidence": 0.9, "max_confidence": 0.1}, "max_confidence"),
            ({"min_confidence": 1.5}, "min_confidence"),
            ({"observation_type": "zebra"}, "observation_type"),
            ({"classification_method": "guess"}, "classification_method"),
            ({"status": "lost"}, "status"),
            ({"taxon_id": "not-a-uuid"}, "taxon_id"),
            ({"taxon_id": str(uuid.uuid4())}, "taxon_id"),
            ({"location_id": other.location_id}, "location_id"),
            ({"deployment_id": other.deployment_id}, "deployment_id"),
            ({"cursor": "bm9wZQ"}, ""),
        ]
        for params, field in bad:
            response = await wl.client.get(url, params=params, headers=viewer)
            assert response.status_code == 422, (params, response.text)
            body = response.json()
            assert body["error"] == "Invalid"
            if field:
                assert field in [f["location"][-1] for f in body["fields"]], body
        assert (await wl.client.get(url, headers=outsider)).status_code == 404
        device = await wl.client.get(url, headers=bearer(site.device_token))
        assert device.status_code == 403
        assert (await wl.client.get(url)).status_code == 401
        assert (await ok(await wl.client.get(url, headers=viewer), 200))["items"] == []


async def test_media_urls_download_the_image(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    site: Site,
    upload: Uploads,
    heron_images: list[Path],
) -> None:
    image = heron_images[0]
    media_id = (await upload(image))["media_id"]
    url = f"/v1/projects/{site.project_id}/media"
    # With precise_locations the URL gives the original (without it, the display copy:
    # tests/e2e/test_media_files.py).
    issuer = TokenIssuer(load_keyring(settings), settings.auth.issuer)
    viewer = issuer.user_token(
        "viewer", {site.project_id: "viewer"}, permissions={site.project_id: ["precise_locations"]}
    )
    items = await eventually(lambda: _items(wl.client, url, viewer))
    (item,) = items
    assert item["id"] == media_id
    assert item["url_file"] == "original"
    assert datetime.fromisoformat(item["url_expires_at"]) > datetime.fromisoformat(
        item["captured_at"]
    )
    link = item["url"]
    if settings.mode == "embedded":
        # The app's signed route: no bearer token, the signature is the authorisation.
        parts = urlsplit(link)
        response = await wl.client.get(f"{parts.path}?{parts.query}")
        tampered = await wl.client.get(
            f"{parts.path}?{parts.query}".replace("signature=", "signature=0")
        )
        assert tampered.status_code == 403
    else:
        # A presigned URL on the S3 server.
        assert settings.storage_url is not None
        assert urlsplit(link).netloc == settings.storage_url.split("/")[2]
        async with httpx.AsyncClient() as plain:
            response = await plain.get(link)
    assert response.status_code == 200, response.text
    assert response.content == image.read_bytes()


async def _items(client: Any, url: str, token: str) -> list[dict[str, Any]]:
    return list((await _get(client, url, token))["items"])


async def _list(
    client: Any, url: str, token: str, limit: int, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a list, ``limit`` at a time, following the cursors."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        extra: dict[str, str] = {"cursor": cursor} if cursor else {}
        page = await _get(client, url, token, limit=limit, **params, **extra)
        assert page["items"] or not cursor, "a cursor led to an empty page"
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def _survey(wl: Any, admin: str) -> dict[str, Any]:
    """A project whose media have capture times (two share one), or none, with one to three
    observations each (one medium shows a person), and event-level observations."""
    site = await create_site(wl.client, admin)
    pid, deployment = uuid.UUID(site.project_id), uuid.UUID(site.deployment_id)
    t = datetime(2021, 4, 1, 8, tzinfo=UTC)
    times = [t + timedelta(hours=2), t, t, t + timedelta(hours=1), None, None, None]
    media = [
        Media(
            id=uuid.uuid4(),
            project_id=pid,
            deployment_id=deployment,
            captured_at=at,
            sha256=f"{n:064x}",
            object_key=f"media/{n}.jpg",
            content_type="image/jpeg",
        )
        for n, at in enumerate(times)
    ]
    observations: list[Observation] = []
    for n, m in enumerate(media):
        kind = "human" if n == 1 else "animal"
        observations += [
            Observation(project_id=pid, media_id=m.id, observation_type=kind, category=kind)
            for _ in range(1 + n % 3)
        ]
    events = [
        Observation(
            project_id=pid,
            deployment_id=deployment,
            observation_level="event",
            observation_type="animal",
            category="animal",
        )
        for _ in range(3)
    ]
    async with wl.platform.contexts["catalogue"].db.transaction() as session:
        session.add_all(media)
        await session.flush()
        session.add_all([*observations, *events])
    when = {m.id: m.captured_at for m in media}

    def taken(o: Observation) -> datetime | None:
        assert o.media_id is not None
        return when[o.media_id]

    dated = [o for o in observations if taken(o) is not None]
    undated = [o for o in observations if taken(o) is None]
    dated.sort(key=lambda o: (taken(o), o.media_id, o.id))
    undated.sort(key=lambda o: (o.media_id, o.id))
    return {
        "site": site,
        "media": media,
        "order": [str(o.id) for o in [*dated, *undated, *sorted(events, key=lambda o: o.id)]],
        "events": {str(o.id) for o in events},
        "people": {str(o.id) for o in observations if o.media_id == media[1].id},
    }


async def test_observation_pages_hold_every_observation_once_in_capture_order(
    wl: RunningPlatform, settings: Settings, admin: str
) -> None:
    s = await _survey(wl, admin)
    site = s["site"]
    pid = site.project_id
    url = f"/v1/projects/{pid}/observations"
    # Media with a capture time in that order (ties by medium), then the undated media,
    # then the event-level observations, whatever the page size: pages end inside each
    # part and on its boundaries.
    for limit in (1, 2, 3, 4, 1000):
        items = await _list(wl.client, url, admin, limit)
        assert [o["id"] for o in items] == s["order"], limit

    by_id = {o["id"]: o for o in items}
    for m in s["media"]:
        for o in (o for o in items if o["media_id"] == str(m.id)):
            expected = m.captured_at.isoformat() if m.captured_at else None
            assert o["captured_at"] is None or expected is not None
            if expected:
                assert datetime.fromisoformat(o["captured_at"]) == m.captured_at
            assert o["deployment_id"] == site.deployment_id
            assert o["location_id"] == site.location_id
    for event in s["events"]:
        # No medium: no capture time, and no place through a medium either.
        assert by_id[event]["media_id"] is None
        assert by_id[event]["captured_at"] is None
        assert by_id[event]["location_id"] is None

    # A filter on media leaves out the observations that have none, as it always has.
    at_site = await _list(wl.client, url, admin, 2, location_id=site.location_id)
    assert [o["id"] for o in at_site] == [i for i in s["order"] if i not in s["events"]]

    # Where people are hidden, their medium's observations go; event-level ones stay.
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy", json={"hide_people": True}, headers=bearer(admin)
        ),
        200,
    )
    volunteer = user_token(settings, "volunteer", {pid: "volunteer"})
    shown = await _list(wl.client, url, volunteer, 3)
    assert [o["id"] for o in shown] == [i for i in s["order"] if i not in s["people"]]

    # The media list pages the same way: capture order, ties by id, undated last.
    media_order = sorted(
        s["media"], key=lambda m: (m.captured_at is None, m.captured_at or 0, m.id)
    )
    for limit in (1, 2, 3):
        media = await _list(wl.client, f"/v1/projects/{pid}/media", admin, limit)
        assert [m["id"] for m in media] == [str(m.id) for m in media_order], limit


async def test_a_cursor_the_api_did_not_return_is_refused(wl: RunningPlatform, admin: str) -> None:
    s = await _survey(wl, admin)
    pid = s["site"].project_id
    some = str(uuid.uuid4())
    at = "2021-04-01T08:00:00+00:00"
    forged = [
        # The shape cursors had before lists were read in phases.
        [at, some],
        [None, some],
        # A phase that does not exist, or the wrong number or kind of keys for one.
        ["later", some],
        ["event"],
        ["event", "not-a-uuid"],
        ["event", None],
        ["undated", at, some],
        ["captured", "2021-04-01T08:00:00", some, some],
        ["captured", at, some, some, some],
        "captured",
    ]
    for path in ("media", "observations"):
        url = f"/v1/projects/{pid}/{path}"
        for raw in forged:
            cursor = encode_cursor(raw)  # type: ignore[arg-type]
            response = await wl.client.get(url, params={"cursor": cursor}, headers=bearer(admin))
            assert response.status_code == 422, (path, raw, response.text)
            assert response.json()["detail"] == "cursor is not one this API returned"
        # A cursor it did return still works, and leads on from where it stopped.
        first = await _get(wl.client, url, admin, limit=1)
        rest = await _get(wl.client, url, admin, limit=1000, cursor=first["next_cursor"])
        assert first["items"][0]["id"] not in {i["id"] for i in rest["items"]}
        assert len(rest["items"]) == len(await _list(wl.client, url, admin, 1000)) - 1
