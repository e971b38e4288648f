"""Small async factories that set up a project the way an ecologist would, over the API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ok(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


@dataclass
class Site:
    project_id: str
    location_id: str
    device_id: str
    deployment_id: str
    device_token: str


async def create_site(
    catalogue: httpx.AsyncClient,
    token: str,
    *,
    serial: str = "HF2X-TEST",
    start: str = "2021-03-27T21:38:18+01:00",
    end: str = "2021-04-18T22:25:00+01:00",
    utc_offset: str = "+01:00",
    name: str = "Heron project",
) -> Site:
    """A project with one location, one camera, one deployment and a gateway token."""
    h = bearer(token)
    project = await ok(await catalogue.post("/v1/projects", json={"name": name}, headers=h), 201)
    pid = project["id"]
    location = await ok(
        await catalogue.post(
            f"/v1/projects/{pid}/locations",
            json={
                "name": "B_DM_val 4_'t WAD",
                "latitude": 50.699,
                "longitude": 4.013,
                "region": "BE",
            },
            headers=h,
        ),
        201,
    )
    device = await ok(
        await catalogue.post(
            f"/v1/projects/{pid}/devices",
            json={"serial": serial, "model": "Reconyx-HF2X"},
            headers=h,
        ),
        201,
    )
    deployment = await ok(
        await catalogue.post(
            f"/v1/projects/{pid}/deployments",
            json={
                "location_id": location["id"],
                "device_id": device["id"],
                "start": start,
                "end": end,
                "utc_offset": utc_offset,
            },
            headers=h,
        ),
        201,
    )
    issued = await ok(
        await catalogue.post(f"/v1/projects/{pid}/devices/{device['id']}/token", headers=h), 201
    )
    return Site(pid, location["id"], device["id"], deployment["id"], issued["token"])


async def post_media(
    ingest: httpx.AsyncClient,
    token: str,
    path: Path | None = None,
    *,
    data: bytes | None = None,
    filename: str | None = None,
    fields: dict[str, str] | None = None,
) -> httpx.Response:
    if data is None:
        assert path is not None, "post_media needs a path or the data"
        data = path.read_bytes()
    name = filename or (path.name if path is not None else "upload.jpg")
    return await ingest.post(
        "/v1/media",
        files={"file": (name, data, "application/octet-stream")},
        data=fields or {},
        headers=bearer(token),
    )


async def put_signed(client: httpx.AsyncClient, public_url: str, url: str, data: bytes) -> None:
    """PUT to a URL the API handed out, as an uploader on the network would."""
    if url.startswith(public_url):
        # The platform's own signed route: reach it in-process.
        parts = urlsplit(url)
        response = await client.put(f"{parts.path}?{parts.query}", content=data)
    else:
        async with httpx.AsyncClient() as outside:
            response = await outside.put(url, content=data)
    assert response.status_code == 200, response.text
