"""Model bundles as users bring them to the registry: the files, and posting them."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import bearer, ok, put_signed
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE, write_bundle

__all__ = [
    "finished_upload",
    "manifest_of",
    "open_upload",
    "post_bundle",
    "post_files",
    "put_signed",
    "renamed",
    "upload_files",
]


def renamed(bundle: Path, folder: Path, *, version: str, name: str | None = None) -> Path:
    """``bundle``'s model under another version (and name): a bundle of its own."""
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest.pop("sha256")
    manifest["version"] = version
    if name is not None:
        manifest["name"] = name
    write_bundle(folder, bundle / MODEL_FILE, manifest)
    return folder


async def post_files(
    client: httpx.AsyncClient,
    token: str,
    model: bytes,
    manifest: bytes,
    project_id: str | None = None,
) -> httpx.Response:
    """``POST /v1/models`` with these bytes as the model and the manifest."""
    return await client.post(
        "/v1/models",
        files={
            "model": (MODEL_FILE, model, "application/octet-stream"),
            "manifest": (MANIFEST_FILE, manifest, "application/json"),
        },
        data={"project_id": project_id} if project_id else {},
        headers=bearer(token),
    )


async def post_bundle(
    client: httpx.AsyncClient, token: str, bundle: Path, project_id: str | None = None
) -> httpx.Response:
    """``POST /v1/models`` with a bundle folder's two files."""
    return await post_files(
        client,
        token,
        (bundle / MODEL_FILE).read_bytes(),
        (bundle / MANIFEST_FILE).read_bytes(),
        project_id,
    )


def manifest_of(bundle: Path) -> dict[str, Any]:
    return dict(json.loads((bundle / MANIFEST_FILE).read_text()))


async def open_upload(
    client: httpx.AsyncClient,
    token: str,
    manifest: dict[str, Any],
    sizes: tuple[int, int],
    project_id: str | None = None,
) -> httpx.Response:
    """``POST /v1/models/uploads`` for a bundle of this manifest and these file sizes."""
    body: dict[str, Any] = {
        "name": manifest["name"],
        "version": manifest["version"],
        "kind": manifest["kind"],
        "files": [
            {"name": MODEL_FILE, "size": sizes[0]},
            {"name": MANIFEST_FILE, "size": sizes[1]},
        ],
    }
    if project_id:
        body["project_id"] = project_id
    return await client.post("/v1/models/uploads", json=body, headers=bearer(token))


async def upload_files(
    client: httpx.AsyncClient,
    public_url: str,
    token: str,
    model: bytes,
    manifest: bytes,
    project_id: str | None = None,
) -> dict[str, Any]:
    """An upload opened for these bytes, both PUT to their URLs, and completed: its answer."""
    opened = await ok(
        await open_upload(
            client, token, json.loads(manifest), (len(model), len(manifest)), project_id
        ),
        201,
    )
    data = {MODEL_FILE: model, MANIFEST_FILE: manifest}
    for file in opened["files"]:
        await put_signed(client, public_url, file["upload_url"], data[file["name"]])
    completed = await client.post(
        f"/v1/models/uploads/{opened['id']}/complete", headers=bearer(token)
    )
    return dict(await ok(completed, 202))


async def finished_upload(
    client: httpx.AsyncClient, token: str, upload_id: str, timeout: float = 60
) -> dict[str, Any]:
    """The upload once its job has succeeded or failed."""
    deadline = time.monotonic() + timeout
    while True:
        state = await ok(
            await client.get(f"/v1/models/uploads/{upload_id}", headers=bearer(token)), 200
        )
        if state["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return dict(state)
        await asyncio.sleep(0.1)
