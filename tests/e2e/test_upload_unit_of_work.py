"""``POST /v1/media`` is one unit of work: what an upload records (its medium, its
idempotency key, its announcements) is committed in one transaction before the answer, or
not at all; on both backends. A large original is stored before the transaction begins, a
small one inside it once its medium is recorded; an upload with a key looks the key up first,
in a short read that ends before the bytes are stored, so that a retry is answered without
storing them again.

The transactions are counted with SQLAlchemy's engine events on the ingest service's own
engine, which observe what the database is asked to do. The outbox relay is held back in
these tests, so that what an upload staged for publishing stays in the outbox to be counted
(and so that the relay's own transactions are not counted as the upload's).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import S3Server
from tests.support.api import Site, bearer, ok, put_signed
from tests.support.factories import Uploads
from tests.support.platform import RunningPlatform
from wildlens.common.events import decode, unpack
from wildlens.common.events.v1.media_pb2 import MediaIngested
from wildlens.ingest.models import IdempotencyKey, IngestedMedia
from wildlens.ingest.runtime import IngestRuntime
from wildlens.ingest.uploads import service as upload_service

pytestmark = pytest.mark.services("catalogue", "ingest")


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (seed % 256, (seed * 7) % 256, (seed * 13) % 256)).save(
        buffer, format="JPEG", quality=90
    )
    return buffer.getvalue()


@contextmanager
def transactions(engine: AsyncEngine) -> Iterator[Counter[str]]:
    """How many transactions ``engine`` began, committed and rolled back inside the block."""
    seen: Counter[str] = Counter()
    listeners = {
        name: (lambda *_args, name=name: seen.update([name]))
        for name in ("begin", "commit", "rollback")
    }
    for name, listener in listeners.items():
        event.listen(engine.sync_engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners.items():
            event.remove(engine.sync_engine, name, listener)


async def count_rows(ingest: Any, table: Any) -> int:
    async with ingest.db.transaction() as session:
        result = await (await session.connection()).execute(select(func.count()).select_from(table))
        return int(result.scalar_one())


async def staged(ingest: Any) -> list[Any]:
    """The events waiting in ingest's outbox, oldest first."""
    table = ingest.outbox_table
    async with ingest.db.transaction() as session:
        rows = await (await session.connection()).execute(select(table.c.body).order_by(table.c.id))
        return [decode(row.body) for row in rows]


async def hold_back_relay(wl: RunningPlatform) -> Any:
    ingest = wl.platform.contexts["ingest"]
    await ingest.relay.close()
    assert await staged(ingest) == []
    return ingest


MEDIA = IngestedMedia.__table__  # type: ignore[attr-defined]
KEYS = IdempotencyKey.__table__  # type: ignore[attr-defined]


async def test_an_upload_commits_one_transaction(
    wl: RunningPlatform, site: Site, upload: Uploads
) -> None:
    ingest = await hold_back_relay(wl)
    # Expired keys are purged after an upload's commit, in a transaction of their own that is
    # no part of the upload's; none falls due while the transactions are counted here.
    ingest.runtime_as(IngestRuntime).key_expiry.purged_at = time.monotonic()

    async def post(data: bytes, key: str | None) -> tuple[httpx.Response, Counter[str]]:
        with transactions(ingest.db.engine) as seen:
            if key is None:
                response = await upload.post(data=data, filename="x.jpg")
            else:
                response = await wl.client.post(
                    "/v1/media",
                    files={"file": ("x.jpg", data, "image/jpeg")},
                    headers={**bearer(site.device_token), "Idempotency-Key": key},
                )
        return response, seen

    once = Counter({"begin": 1, "commit": 1})
    # With a key, a short read of the key comes first and ends before the bytes are stored;
    # then the unit of work: key, medium and both announcements, in one commit.
    looked_then_once = Counter({"begin": 2, "commit": 2})
    response, seen = await post(jpeg(1), "trap-1/0001")
    first = await ok(response, 202)
    assert first["duplicate"] is False
    assert seen == looked_then_once
    assert [e.type for e in await staged(ingest)] == [
        "media.ingested",
        "ingest.derivatives.requested",
    ]
    # Its retry, answered from the key.
    response, seen = await post(jpeg(1), "trap-1/0001")
    assert await ok(response, 202) == {**first, "duplicate": True}
    assert seen == once
    # A new upload without a key, and the same bytes again.
    response, seen = await post(jpeg(2), None)
    second = await ok(response, 202)
    assert seen == once
    response, seen = await post(jpeg(2), None)
    assert await ok(response, 202) == {**second, "duplicate": True}
    assert seen == once
    # Known bytes under a new key: the key is recorded with the medium's id.
    response, seen = await post(jpeg(2), "trap-1/0002")
    assert await ok(response, 202) == {**second, "duplicate": True}
    assert seen == looked_then_once
    # A key used for other bytes is refused by the first look: nothing is stored or committed.
    response, seen = await post(jpeg(3), "trap-1/0001")
    assert response.status_code == 422, response.text
    assert seen == Counter({"begin": 1, "rollback": 1})

    assert await count_rows(ingest, MEDIA) == 2
    assert await count_rows(ingest, KEYS) == 2
    assert len(await staged(ingest)) == 4


async def test_no_transaction_is_open_while_a_large_original_is_stored(
    wl: RunningPlatform, site: Site, upload: Uploads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection is not held while a large upload is copied to storage (a video
    takes minutes to reach S3): concurrent uploads would otherwise exhaust the pool."""
    # These small JPEGs stand for large originals.
    monkeypatch.setattr(upload_service, "SMALL_OBJECT", 1)
    ingest = await hold_back_relay(wl)
    store = ingest.store
    put_file = store.put_file
    open_while_storing: list[int] = []

    with transactions(ingest.db.engine) as seen:

        async def watched_put(*args: Any, **kwargs: Any) -> None:
            open_while_storing.append(seen["begin"] - seen["commit"] - seen["rollback"])
            await put_file(*args, **kwargs)

        monkeypatch.setattr(store, "put_file", watched_put)
        await upload(data=jpeg(80), filename="x.jpg")
        keyed = await wl.client.post(
            "/v1/media",
            files={"file": ("x.jpg", jpeg(81), "image/jpeg")},
            headers={**bearer(site.device_token), "Idempotency-Key": "trap-5/0001"},
        )
        await ok(keyed, 202)
    assert open_while_storing == [0, 0]


async def test_a_small_original_is_written_once_its_medium_is_recorded_and_a_duplicate_not_at_all(
    wl: RunningPlatform, site: Site, upload: Uploads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A camera-trap image is written inside its unit of work, after its medium's row, while
    the content is held: one request to storage per upload (no look afterwards for a removal
    that could have taken it), and none for bytes the project has."""
    ingest = await hold_back_relay(wl)
    store = ingest.store
    put_file, exists = store.put_file, store.exists
    requests: list[tuple[str, int, int]] = []

    with transactions(ingest.db.engine) as seen:

        async def watched_put(key: str, *args: Any, **kwargs: Any) -> None:
            open_now = seen["begin"] - seen["commit"] - seen["rollback"]
            # What others see of the media: the upload's row is not committed yet.
            async with ingest.db.engine.connect() as other:
                visible = (await other.execute(select(func.count()).select_from(MEDIA))).scalar()
            requests.append(("put", open_now, int(visible or 0)))
            await put_file(key, *args, **kwargs)

        async def watched_exists(key: str) -> bool:
            requests.append(("exists", 0, 0))
            return bool(await exists(key))

        monkeypatch.setattr(store, "put_file", watched_put)
        monkeypatch.setattr(store, "exists", watched_exists)
        first = await upload(data=jpeg(82), filename="a.jpg")
        # The put ran inside the upload's transaction, before its commit made the medium
        # visible to others, and nothing looked at storage afterwards.
        assert requests == [("put", 1, 0)]
        again = await upload(data=jpeg(82), filename="b.jpg")
        assert again["duplicate"] is True
        assert again["media_id"] == first["media_id"]
        assert len(requests) == 1
    assert [o.key for o in await store.list("media/")] == [
        f"media/{first['sha256'][:2]}/{first['sha256']}.jpg"
    ]


async def break_storage(wl: RunningPlatform, backend: str, request: pytest.FixtureRequest) -> Any:
    """Make every write to the object store fail; answers how to mend it."""
    store = wl.platform.store
    if backend == "embedded":
        # Where the local store writes every object first.
        shutil.rmtree(store.root / ".tmp")
        return lambda: (store.root / ".tmp").mkdir()
    from minio import Minio

    s3: S3Server = request.getfixturevalue("s3_server")
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
    for item in client.list_objects(store.bucket, recursive=True):
        client.remove_object(store.bucket, item.object_name)
    client.remove_bucket(store.bucket)
    return lambda: client.make_bucket(store.bucket)


async def test_an_upload_that_fails_leaves_nothing_and_its_key_free(
    wl: RunningPlatform, site: Site, backend: str, request: pytest.FixtureRequest
) -> None:
    ingest = await hold_back_relay(wl)
    headers = {**bearer(site.device_token), "Idempotency-Key": "trap-2/0001"}
    files = {"file": ("x.jpg", jpeg(7), "image/jpeg")}

    mend = await break_storage(wl, backend, request)
    try:
        response = await wl.client.post("/v1/media", files=files, headers=headers)
    except OSError:
        # The local store's error is no error of ours: a server answers it with a 500,
        # which the in-process client raises instead.
        assert backend == "embedded"
    else:
        assert response.status_code == 503, response.text
        assert "bucket" in response.json()["detail"]
    assert await count_rows(ingest, MEDIA) == 0
    assert await count_rows(ingest, KEYS) == 0
    assert await staged(ingest) == []

    # The retry with the same key is a new upload, not the replay of a failure.
    await asyncio.to_thread(mend)
    accepted = await ok(await wl.client.post("/v1/media", files=files, headers=headers), 202)
    assert accepted["duplicate"] is False
    assert await count_rows(ingest, MEDIA) == 1
    announced = [e for e in await staged(ingest) if e.type == "media.ingested"]
    assert [unpack(e, MediaIngested).media_id for e in announced] == [accepted["media_id"]]
    assert [o.key for o in await wl.platform.store.list("media/")] == [
        unpack(announced[0], MediaIngested).object_key
    ]


async def test_one_key_used_at_once_for_different_bytes_records_one_upload(
    wl: RunningPlatform, site: Site
) -> None:
    ingest = await hold_back_relay(wl)
    headers = {**bearer(site.device_token), "Idempotency-Key": "trap-3/0001"}

    responses = await asyncio.gather(
        *(
            wl.client.post(
                "/v1/media",
                files={"file": ("x.jpg", jpeg(20 + n), "image/jpeg")},
                headers=headers,
            )
            for n in range(4)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [202, 422, 422, 422], [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 202)
    for refused in (r for r in responses if r.status_code == 422):
        assert "different content" in refused.json()["detail"]

    # The refused uploads left nothing: no medium, no announcement, no stored original.
    assert await count_rows(ingest, MEDIA) == 1
    assert await count_rows(ingest, KEYS) == 1
    announced = [e for e in await staged(ingest) if e.type == "media.ingested"]
    assert [unpack(e, MediaIngested).media_id for e in announced] == [winner["media_id"]]
    assert len(await wl.platform.store.list("media/")) == 1


async def test_one_key_used_at_once_for_the_same_bytes_answers_one_medium(
    wl: RunningPlatform, site: Site
) -> None:
    ingest = await hold_back_relay(wl)
    headers = {**bearer(site.device_token), "Idempotency-Key": "trap-4/0001"}

    responses = await asyncio.gather(
        *(
            wl.client.post(
                "/v1/media", files={"file": ("x.jpg", jpeg(40), "image/jpeg")}, headers=headers
            )
            for _ in range(4)
        )
    )
    answers = [await ok(r, 202) for r in responses]
    assert len({a["media_id"] for a in answers}) == 1
    assert sorted(a["duplicate"] for a in answers) == [False, True, True, True]
    assert await count_rows(ingest, MEDIA) == 1
    assert len([e for e in await staged(ingest) if e.type == "media.ingested"]) == 1


async def test_each_file_of_a_bulk_upload_commits_once(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    ingest = await hold_back_relay(wl)
    files = {f"DCIM/{n}.JPG": jpeg(60 + n) for n in range(3)}
    files["DCIM/notes.JPG"] = b"<html>not a photo</html>"
    manifest = [
        {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in files.items()
    ]
    created = await ok(
        await wl.client.post(
            "/v1/uploads",
            json={"project_id": site.project_id, "files": manifest},
            headers=bearer(admin),
        ),
        201,
    )
    by_sha = {hashlib.sha256(data).hexdigest(): data for data in files.values()}
    for entry in created["files"]:
        await put_signed(
            wl.client, wl.settings.public_url, entry["upload_url"], by_sha[entry["sha256"]]
        )

    with transactions(ingest.db.engine) as seen:
        done = await ok(
            await wl.client.post(f"/v1/uploads/{created['id']}/complete", headers=bearer(admin)),
            200,
        )
    assert done["counts"]["ingested"] == 3
    assert done["counts"]["rejected"] == 1
    # Reading the upload, one commit per file (its medium, announcements and state
    # together, or a rejection alone), and reading the counts.
    assert seen["commit"] == 2 + len(files)
    announced = [e for e in await staged(ingest) if e.type == "media.ingested"]
    assert sorted(unpack(e, MediaIngested).media_id for e in announced) == sorted(
        f["media_id"] for f in done["processed"] if f["state"] == "ingested"
    )
