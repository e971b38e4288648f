"""Bad input gets a clear 4xx naming the problem, nothing half-written stays behind, and the
service keeps serving."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import bad_files
from tests.support.api import Site, bearer, ok, post_media
from tests.support.factories import Sites, Uploads
from tests.support.platform import RunningPlatform
from wildlens.common.http import encode_cursor

HOSTILE: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("empty", bad_files.empty, 422, "empty"),
    ("truncated", bad_files.truncated_jpeg, 422, "truncated"),
    ("html", bad_files.html_named_jpg, 415, "HTML"),
    ("elf", bad_files.elf, 415, "executable"),
    ("pe", bad_files.pe, 415, "executable"),
    ("polyglot", bad_files.polyglot_jpeg_html, 422, "after the end of the image"),
    ("bomb", bad_files.png_bomb, 422, "pixels"),
]

# Media go up through ingest to the catalogue; nothing here needs the other services.
pytestmark = pytest.mark.services("catalogue", "ingest")


async def _stored_objects(wl: Any) -> list[Any]:
    return list(await wl.platform.store.list("media/"))


@pytest.mark.parametrize(("name", "make", "status", "words"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_uploads_are_refused_and_leave_nothing(
    wl: RunningPlatform,
    admin: str,
    site: Site,
    upload: Uploads,
    name: str,
    make: Callable[[], bytes],
    status: int,
    words: str,
) -> None:
    response = await upload.post(data=make(), filename=f"{name}.jpg")
    assert response.status_code == status, response.text
    body = response.json()
    assert words.lower() in body["detail"].lower(), body
    assert set(body) >= {"error", "detail"}
    assert await _stored_objects(wl) == []
    ingest = wl.platform.contexts["ingest"]
    assert await ingest.relay.relay_once() == 0  # nothing was staged for publishing
    # The service is still up and takes a good image.
    good = await upload.post(data=bad_files.small_jpeg(), filename="ok.jpg")
    assert good.status_code == 202, good.text


async def test_malformed_requests_say_what_is_wrong(
    wl: RunningPlatform, admin: str, new_site: Sites
) -> None:
    h = bearer(admin)
    site = await new_site()
    pid = site.project_id

    response = await wl.client.post("/v1/projects", json={}, headers=h)
    assert response.status_code == 422
    assert response.json()["fields"][0]["location"] == ["body", "name"]

    response = await wl.client.post(
        "/v1/projects", content=b"{not json", headers={**h, "Content-Type": "application/json"}
    )
    assert response.status_code == 422

    response = await wl.client.post(
        f"/v1/projects/{pid}/locations",
        json={"name": "x", "latitude": 123, "longitude": 0},
        headers=h,
    )
    assert response.status_code == 422
    assert "latitude" in response.json()["detail"]

    bad_deployment = {
        "location_id": site.location_id,
        "device_id": site.device_id,
        "start": "2021-04-01T00:00:00+01:00",
        "end": "2021-03-01T00:00:00+01:00",
        "utc_offset": "+01:00",
    }
    response = await wl.client.post(
        f"/v1/projects/{pid}/deployments", json=bad_deployment, headers=h
    )
    assert response.status_code == 422
    assert "end must be after start" in response.json()["detail"]

    response = await wl.client.post(
        f"/v1/projects/{pid}/deployments",
        json={**bad_deployment, "end": None, "utc_offset": "CET"},
        headers=h,
    )
    assert response.status_code == 422
    assert "utc_offset" in response.json()["detail"]

    response = await wl.client.post(
        f"/v1/projects/{pid}/deployments",
        json={**bad_deployment, "end": None, "start": "2021-04-01T00:00:00"},
        headers=h,
    )
    assert response.status_code == 422, "a start without an offset is ambiguous"

    response = await wl.client.post(
        f"/v1/projects/{pid}/devices", json={"serial": "HF2X-TEST"}, headers=h
    )
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]

    response = await wl.client.get(f"/v1/projects/{pid}/locations?cursor=%%%", headers=h)
    assert response.status_code == 422
    response = await wl.client.get(f"/v1/projects/{pid}/locations?limit=0", headers=h)
    assert response.status_code == 422
    response = await wl.client.get("/v1/media/not-a-uuid", headers=h)
    assert response.status_code == 422

    response = await wl.client.get(f"/v1/projects/{pid}")
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "missing bearer token (Authorization: Bearer <token>)",
    }
    response = await wl.client.get(f"/v1/projects/{pid}", headers=bearer("not.a.token"))
    assert response.status_code == 401

    # Uploads: no file, a capture time without offset, coordinates out of range.
    response = await wl.client.post("/v1/media", data={}, headers=bearer(site.device_token))
    assert response.status_code == 422
    assert "file" in response.json()["detail"]
    response = await post_media(
        wl.client,
        site.device_token,
        data=bad_files.small_jpeg(),
        fields={"captured_at": "2021-04-01 10:00"},
    )
    assert response.status_code == 422
    response = await post_media(
        wl.client, site.device_token, data=bad_files.small_jpeg(), fields={"latitude": "91"}
    )
    assert response.status_code == 422
    assert await _stored_objects(wl) == []


async def test_pagination_walks_every_item_once(
    wl: RunningPlatform, admin: str, tmp_path: Path, new_site: Sites
) -> None:
    h = bearer(admin)
    site = await new_site()
    for i in range(6):
        await ok(
            await wl.client.post(
                f"/v1/projects/{site.project_id}/locations",
                json={"name": f"site {i}", "latitude": 50 + i / 10, "longitude": 4},
                headers=h,
            ),
            201,
        )
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = f"/v1/projects/{site.project_id}/locations?limit=3" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = await ok(await wl.client.get(url, headers=h), 200)
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7


# Every service's lists page the same way; this one asks three of them.
@pytest.mark.services("catalogue", "ingest", "citsci", "training")
async def test_every_list_refuses_a_bad_page_the_same_way(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    """A cursor no list handed out and a page size out of bounds get the same 422, naming the
    query parameter, whichever service's list is asked."""
    h = bearer(admin)
    lists = [
        f"/v1/projects/{site.project_id}/locations",  # the catalogue
        f"/v1/citsci/subject-sets?project_id={site.project_id}",  # citizen science
        "/v1/models",  # the training registry
    ]
    for url in lists:
        await ok(await wl.client.get(url, headers=h), 200)
        joiner = "&" if "?" in url else "?"
        # Not a cursor at all, and a well-formed one that holds no key of this list.
        for cursor in ("%%%", encode_cursor(["not an id"])):
            response = await wl.client.get(f"{url}{joiner}cursor={cursor}", headers=h)
            assert response.status_code == 422, (url, response.text)
            assert response.json() == {
                "error": "Invalid",
                "detail": "cursor is not one this API returned",
                "fields": [
                    {
                        "location": ["query", "cursor"],
                        "message": "cursor is not one this API returned",
                        "type": "value_error",
                    }
                ],
            }, url
        for limit, kind in (("0", "greater_than_equal"), ("1001", "less_than_equal")):
            response = await wl.client.get(f"{url}{joiner}limit={limit}", headers=h)
            assert response.status_code == 422, (url, response.text)
            body = response.json()
            assert body["error"] == "Invalid"
            assert [(f["location"], f["type"]) for f in body["fields"]] == [
                (["query", "limit"], kind)
            ], url
