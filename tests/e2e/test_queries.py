"""Finding a project's media and observations: every filter, keyset pages in capture order,
access, and image URLs that really download, on the embedded and the real backends."""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from sqlmodel import select

from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, create_site, ok, post_media
from tests.support.platform import admin_token, eventually, running, user_token
from tests.support.results import analysis, animal
from wildlens.catalogue.media.models import Observation
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Detection,
)


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
    settings_for: Any, heron_images: list[Path]
) -> None:
    settings = settings_for()
    async with running(settings) as wl:
        admin = admin_token(settings)
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
            datetime.fromisoformat(b["captured_at"])
            for b in s["media"].values()
            if b["captured_at"]
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

        heron_obs = (await _get(wl.client, obs_url, viewer, taxon_id=taxa["Ardea cinerea"]))[
            "items"
        ]
        assert len(heron_obs) == 1
        assert heron_obs[0]["bbox"] == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=1e-6)
        assert heron_obs[0]["deployment_id"] == s["media"][s["heron"]]["deployment_id"]


async def test_filters_are_checked_and_access_is_scoped(
    settings_for: Any, heron_images: list[Path]
) -> None:
    settings = settings_for()
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        other = await create_site(wl.client, admin, serial="OTHER-2", name="Other")
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


async def test_media_urls_download_the_image(settings_for: Any, heron_images: list[Path]) -> None:
    settings = settings_for()
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        image = heron_images[0]
        media_id = (await ok(await post_media(wl.client, site.device_token, image), 202))[
            "media_id"
        ]
        url = f"/v1/projects/{site.project_id}/media"
        viewer = user_token(settings, "viewer", {site.project_id: "viewer"})
        items = await eventually(lambda: _items(wl.client, url, viewer))
        (item,) = items
        assert item["id"] == media_id
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
            assert urlsplit(link).netloc == settings.storage_url.split("/")[2]
            async with httpx.AsyncClient() as plain:
                response = await plain.get(link)
        assert response.status_code == 200, response.text
        assert response.content == image.read_bytes()


async def _items(client: Any, url: str, token: str) -> list[dict[str, Any]]:
    return list((await _get(client, url, token))["items"])
