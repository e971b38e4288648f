"""Model bundles as users bring them to the registry: the files, and posting them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import bearer
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE, write_bundle

__all__ = ["manifest_of", "post_bundle", "post_files", "renamed"]


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
