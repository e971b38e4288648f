"""Ingest's sweep of stored objects nothing holds: an original left by an upload cut off
before its commit goes once it is older than the grace age, with its derivatives; a younger
one and an original a medium holds stay; a staging object no pending file awaits goes, one
that a pending file awaits stays. On the local store and on S3, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta
from functools import partial

import pytest
from prometheus_client import REGISTRY

from tests.support.api import Site, bearer, ok
from tests.support.factories import Uploads
from tests.support.located_images import located_image
from tests.support.platform import RunningPlatform, eventually
from wildlens.common.db import utcnow
from wildlens.common.storage import ObjectStore, display_key, thumbnail_key
from wildlens.ingest.sweep import sweep_orphans

pytestmark = pytest.mark.services("catalogue", "ingest")


def _swept(kind: str) -> float:
    return REGISTRY.get_sample_value("wildlens_ingest_orphans_swept_total", {"kind": kind}) or 0


async def _orphan(store: ObjectStore, data: bytes) -> str:
    """An original (with derivatives) stored as an upload stores it, its medium never
    recorded: what a database cut between the two leaves."""
    sha = hashlib.sha256(data).hexdigest()
    await store.put_bytes(f"media/{sha[:2]}/{sha}.jpg", data, "image/jpeg")
    await store.put_bytes(display_key(sha), b"display", "image/jpeg")
    await store.put_bytes(thumbnail_key(sha), b"thumb", "image/jpeg")
    return sha


async def test_the_sweep_removes_only_old_unheld_objects(
    wl: RunningPlatform, site: Site, upload: Uploads
) -> None:
    ingest = wl.platform.contexts["ingest"]
    store = ingest.store
    held_image = located_image(50.1, 4.1, colour=(10, 20, 30))
    body = await upload(data=held_image, filename="held.jpg")
    held = body["sha256"]
    await eventually(partial(store.exists, thumbnail_key(held)))
    old = await _orphan(store, located_image(50.2, 4.2, colour=(200, 10, 10)))
    # A staging object of an upload that does not exist, and one its pending file awaits.
    stray = f"staging/{uuid.uuid4()}/1"
    await store.put_bytes(stray, b"stray", "application/octet-stream")
    opened = await ok(
        await wl.client.post(
            "/v1/uploads",
            json={
                "project_id": site.project_id,
                "files": [
                    {"name": "a.jpg", "size": 5, "sha256": hashlib.sha256(b"aaaaa").hexdigest()}
                ],
            },
            headers=bearer(site.device_token),
        ),
        201,
    )
    awaited = f"staging/{opened['id']}/{opened['files'][0]['n']}"
    await store.put_bytes(awaited, b"aaaaa", "application/octet-stream")

    # Stores note write times to the second: what follows is younger by more than that.
    await asyncio.sleep(2.2)
    between = utcnow()
    fresh = await _orphan(store, located_image(50.3, 4.3, colour=(10, 200, 10)))
    before = {k: _swept(k) for k in ("original", "staging")}

    swept = await sweep_orphans(ingest.database, store, grace=timedelta(seconds=1.5), now=between)
    assert (swept.originals, swept.staging) == (1, 1)
    assert {k: _swept(k) - before[k] for k in before} == {"original": 1, "staging": 1}
    for key in (f"media/{old[:2]}/{old}.jpg", display_key(old), thumbnail_key(old), stray):
        assert not await store.exists(key), key
    for key in (
        f"media/{held[:2]}/{held}.jpg",
        display_key(held),
        f"media/{fresh[:2]}/{fresh}.jpg",
        display_key(fresh),
        awaited,
    ):
        assert await store.exists(key), key

    # Sweeping again (another replica) removes nothing more and fails on nothing.
    again = await sweep_orphans(ingest.database, store, grace=timedelta(seconds=1.5), now=between)
    assert (again.originals, again.staging) == (0, 0)

    # The swept bytes posted again are a new upload, and stored again.
    data = located_image(50.2, 4.2, colour=(200, 10, 10))
    posted = await upload(data=data, filename="again.jpg")
    assert posted["sha256"] == old
    assert await store.get_bytes(f"media/{old[:2]}/{old}.jpg") == data
