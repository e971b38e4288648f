"""Object storage, against a local folder and a real S3 server (moto) alike."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.conftest import S3Server, free_port
from wildlens.common.errors import Conflict, Invalid, Unavailable, WildlensError
from wildlens.common.settings import StorageSettings
from wildlens.common.storage import (
    LocalStore,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    S3Store,
    create_store,
    signed_objects_router,
    validate_key,
)

PUBLIC_URL = "http://wildlens.test"
SIGNING_KEY = b"test-signing-key-0123456789abcdef"
BAD_KEYS = ["../x", "/abs", "a/../../b", "a\\b", "a\x00b", "", "a//b", "./a", "a/", "a b"]
MB = 1 << 20


def s3_settings(server: S3Server, **overrides: object) -> StorageSettings:
    values: dict[str, object] = {
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        **overrides,
    }
    return StorageSettings.model_validate(values)


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    if request.param == "local":
        url, settings = (tmp_path / "objects").as_uri(), StorageSettings()
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        url, settings = server.url(request.getfixturevalue("s3_bucket")), s3_settings(server)
    store = create_store(url, settings, public_url=PUBLIC_URL, signing_key=SIGNING_KEY)
    await store.start()
    yield store
    await store.close()


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalStore]:
    store = LocalStore(tmp_path / "objects", public_url=PUBLIC_URL, signing_key=SIGNING_KEY)
    await store.start()
    yield store
    await store.close()


def signed_app(store: LocalStore) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(WildlensError)
    async def render(request: Request, exc: WildlensError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code)

    app.include_router(signed_objects_router(store))
    return app


def http_client(store: ObjectStore) -> httpx.AsyncClient:
    """A client that reaches the store's URLs: the app in process, or the S3 server."""
    if isinstance(store, LocalStore):
        return httpx.AsyncClient(transport=httpx.ASGITransport(signed_app(store)))
    return httpx.AsyncClient()


def temp_files(store: LocalStore) -> list[Path]:
    return list((store.root / ".tmp").iterdir())


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- round trips ------------------------------------------------------------------------


async def test_bytes_round_trip_with_stat(store: ObjectStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    await store.put_bytes("media/ab/abc.jpg", b"\xff\xd8jpeg", "image/jpeg")

    assert await store.get_bytes("media/ab/abc.jpg") == b"\xff\xd8jpeg"
    info = await store.stat("media/ab/abc.jpg")
    assert info == ObjectInfo("media/ab/abc.jpg", 6, "image/jpeg")
    # When it was written: what the sweep of unheld originals judges age by.
    assert info.modified is not None
    assert before <= info.modified <= datetime.now(UTC) + timedelta(seconds=5)


async def test_file_round_trip_and_download(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3 * MB + 17))
    await store.put_file("exports/p/e.zip", source, "application/zip")

    target = tmp_path / "out" / "nested" / "e.zip"
    await store.download_to("exports/p/e.zip", target)

    assert target.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["e.zip"]
    assert await store.stat("exports/p/e.zip") == ObjectInfo(
        "exports/p/e.zip", 3 * MB + 17, "application/zip"
    )


async def test_overwrite_replaces_content_and_type(store: ObjectStore) -> None:
    await store.put_bytes("a/b", b"old", "text/plain")
    await store.put_bytes("a/b", b"newer", "application/json")

    assert await store.get_bytes("a/b") == b"newer"
    assert await store.stat("a/b") == ObjectInfo("a/b", 5, "application/json")


async def test_stream_yields_bounded_chunks(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(5 * MB + 123)
    source = tmp_path / "video.mp4"
    source.write_bytes(data)
    await store.put_file("media/vi/video.mp4", source, "video/mp4")

    chunks = [chunk async for chunk in store.stream("media/vi/video.mp4", chunk_size=MB)]

    assert len(chunks) >= 6
    assert max(len(chunk) for chunk in chunks) <= MB
    assert b"".join(chunks) == data


async def test_stream_stopped_early_releases_the_object(store: ObjectStore) -> None:
    await store.put_bytes("k/partial", b"x" * (3 * MB), "application/octet-stream")
    chunks = store.stream("k/partial", chunk_size=MB)
    assert isinstance(chunks, AsyncIterator)

    first = await anext(chunks)
    await chunks.aclose()  # type: ignore[attr-defined]

    assert len(first) == MB
    # The store still works for the same key afterwards (no half-read connection reused).
    assert await store.get_bytes("k/partial") == b"x" * (3 * MB)


# -- presence ---------------------------------------------------------------------------


async def test_exists_and_idempotent_delete(store: ObjectStore) -> None:
    await store.put_bytes("staging/u1/0", b"data", "image/png")
    assert await store.exists("staging/u1/0")

    await store.delete("staging/u1/0")
    assert not await store.exists("staging/u1/0")
    await store.delete("staging/u1/0")
    await store.delete("never/was")

    assert not await store.exists("staging/u1/0")


async def test_many_objects_read_at_once_come_back_in_the_order_asked(
    store: ObjectStore,
) -> None:
    for n in range(12):
        await store.put_bytes(f"objects/o{n}.png", f"object {n}".encode(), "image/png")
    keys = [f"objects/o{n}.png" for n in (3, 0, 11, 3, 7)]

    assert await store.get_many(keys) == [
        b"object 3",
        b"object 0",
        b"object 11",
        b"object 3",
        b"object 7",
    ]
    assert await store.get_many([]) == []


async def test_many_objects_with_one_missing_raise_object_not_found_naming_it(
    store: ObjectStore,
) -> None:
    await store.put_bytes("objects/here.png", b"here", "image/png")

    with pytest.raises(ObjectNotFound) as caught:
        await store.get_many(["objects/here.png", "objects/gone.png"])
    assert caught.value.key == "objects/gone.png"


async def test_missing_object_raises_object_not_found(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        await store.get_bytes("media/no/such.jpg")
    assert caught.value.status_code == 404
    with pytest.raises(ObjectNotFound):
        await store.stat("media/no/such.jpg")
    with pytest.raises(ObjectNotFound):
        [chunk async for chunk in store.stream("media/no/such.jpg")]
    with pytest.raises(ObjectNotFound):
        await store.download_to("media/no/such.jpg", tmp_path / "dl" / "such.jpg")
    assert not (tmp_path / "dl" / "such.jpg").exists()


async def test_a_folder_is_not_an_object(store: ObjectStore) -> None:
    await store.put_bytes("models/m/1/model.onnx", b"onnx", "application/octet-stream")

    assert not await store.exists("models/m")
    with pytest.raises(ObjectNotFound):
        await store.stat("models/m")
    await store.delete("models/m")
    assert await store.exists("models/m/1/model.onnx")


async def test_list_by_prefix(store: ObjectStore) -> None:
    for key in ["media/aa/1.jpg", "media/aa/2.jpg", "media/ab/3.jpg", "derived/aa/thumb.jpg"]:
        await store.put_bytes(key, key.encode(), "image/jpeg")

    assert await store.list("media/aa/") == [
        ObjectInfo("media/aa/1.jpg", 14, "image/jpeg"),
        ObjectInfo("media/aa/2.jpg", 14, "image/jpeg"),
    ]
    assert [i.key for i in await store.list("media/a")] == [
        "media/aa/1.jpg",
        "media/aa/2.jpg",
        "media/ab/3.jpg",
    ]
    assert len(await store.list("")) == 4
    assert await store.list("nothing/") == []


# -- keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused_and_nothing_is_written(
    store: ObjectStore, tmp_path: Path, key: str
) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(b"payload")

    with pytest.raises(Invalid):
        await store.put_bytes(key, b"payload", "text/plain")
    with pytest.raises(Invalid):
        await store.put_file(key, source, "text/plain")
    for read in (store.get_bytes, store.stat, store.exists, store.delete, store.url_for_get):
        with pytest.raises(Invalid):
            await read(key)
    with pytest.raises(Invalid):
        await store.url_for_put(key)
    await store.put_bytes("objects/fine.png", b"fine", "image/png")
    with pytest.raises(Invalid):
        await store.get_many(["objects/fine.png", key])
    await store.delete("objects/fine.png")

    assert await store.list("") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["src.bin"] + (["objects"] if isinstance(store, LocalStore) else [])
    )
    assert not Path("/abs").exists()


def test_good_keys_pass() -> None:
    for key in ["media/ab/ab12.jpg", "models/megadetector/5.0a/model.onnx", "frames/x/1200.jpg"]:
        assert validate_key(key) == key


async def test_bad_prefix_is_refused(store: ObjectStore) -> None:
    with pytest.raises(Invalid):
        await store.list("../")


async def test_local_store_does_not_follow_links_out_of_its_root(
    local: LocalStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (local.root / "link").symlink_to(outside)

    (outside / "secret").write_bytes(b"not the store's")
    (local.root / "deep" / "er").mkdir(parents=True)
    (local.root / "deep" / "er" / "link").symlink_to(outside)
    await local.put_bytes("inside/x", b"kept", "text/plain")
    (local.root / "alias").symlink_to(local.root / "inside")

    with pytest.raises(Invalid):
        await local.put_bytes("link/x", b"escape", "text/plain")
    for key in ("link/secret", "deep/er/link/secret"):
        with pytest.raises(Invalid):
            await local.get_bytes(key)
        with pytest.raises(Invalid):
            await local.get_many(["inside/x", key])

    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    # A link that stays inside the store leads to its objects.
    assert await local.get_many(["alias/x"]) == [b"kept"]


async def test_local_key_that_is_a_folder_conflicts(local: LocalStore) -> None:
    await local.put_bytes("a/b", b"1", "text/plain")

    with pytest.raises(Conflict):
        await local.put_bytes("a", b"2", "text/plain")
    with pytest.raises(Conflict):
        await local.put_bytes("a/b/c", b"3", "text/plain")

    assert await local.get_bytes("a/b") == b"1"
    assert temp_files(local) == []


# -- atomicity --------------------------------------------------------------------------


async def test_reader_never_sees_a_partial_overwrite(store: ObjectStore, tmp_path: Path) -> None:
    old, new = b"a" * (8 * MB), b"b" * (8 * MB)
    await store.put_bytes("media/ov/big.bin", old, "application/octet-stream")
    source = tmp_path / "new.bin"
    source.write_bytes(new)

    writer = asyncio.create_task(store.put_file("media/ov/big.bin", source, "video/mp4"))
    seen: list[bytes] = []
    while not writer.done():
        seen.append(await store.get_bytes("media/ov/big.bin"))
    await writer
    seen.append(await store.get_bytes("media/ov/big.bin"))

    assert all(content in (old, new) for content in seen)
    assert seen[-1] == new


async def test_local_failed_writes_keep_the_old_object_and_no_temp_files(
    local: LocalStore, tmp_path: Path
) -> None:
    await local.put_bytes("media/k/obj", b"original", "image/jpeg")

    with pytest.raises(FileNotFoundError):
        await local.put_file("media/k/obj", tmp_path / "does-not-exist", "image/png")

    async def failing_upload() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await local.put_stream("media/k/obj", failing_upload(), "image/png")

    assert await local.get_bytes("media/k/obj") == b"original"
    assert await local.stat("media/k/obj") == ObjectInfo("media/k/obj", 8, "image/jpeg")
    assert temp_files(local) == []


# -- URLs -------------------------------------------------------------------------------


async def test_signed_urls_download_and_upload(store: ObjectStore) -> None:
    await store.put_bytes("exports/p/dl.zip", b"zip bytes", "application/zip")
    get_url = await store.url_for_get("exports/p/dl.zip")
    put_url = await store.url_for_put("crops/d/o.jpg", content_type="image/jpeg")

    async with http_client(store) as client:
        downloaded = await client.get(get_url)
        uploaded = await client.put(
            put_url, content=b"uploaded jpeg", headers={"Content-Type": "image/jpeg"}
        )

    assert downloaded.status_code == 200
    assert downloaded.content == b"zip bytes"
    assert downloaded.headers["content-type"] == "application/zip"
    assert uploaded.status_code == 200, uploaded.text
    assert await store.get_bytes("crops/d/o.jpg") == b"uploaded jpeg"
    assert await store.stat("crops/d/o.jpg") == ObjectInfo("crops/d/o.jpg", 13, "image/jpeg")


async def test_local_signed_url_shape(local: LocalStore) -> None:
    before = int(time.time())
    url = await local.url_for_get("media/ab/x.jpg", expires=timedelta(minutes=5))

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    assert base == f"{PUBLIC_URL}/v1/objects/media/ab/x.jpg"
    assert before + 300 <= int(query["expires"][0]) <= int(time.time()) + 300
    assert len(query["signature"][0]) == 64


async def test_local_upload_streams_large_body(local: LocalStore) -> None:
    data = os.urandom(4 * MB + 1)
    url = await local.url_for_put("media/up/large.bin")

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 256 * 1024):
            yield data[start : start + 256 * 1024]

    async with http_client(local) as client:
        response = await client.put(url, content=body(), headers={"Content-Type": "video/mp4"})

    assert response.status_code == 200
    assert await local.get_bytes("media/up/large.bin") == data
    assert (await local.stat("media/up/large.bin")).content_type == "video/mp4"
    assert temp_files(local) == []


async def test_local_bad_signatures_are_refused_and_nothing_written(local: LocalStore) -> None:
    await local.put_bytes("media/s/secret.jpg", b"secret", "image/jpeg")
    put_url = await local.url_for_put("media/s/new.jpg")
    signature = parse_qs(urlsplit(put_url).query)["signature"][0]
    tampered = with_query(put_url, signature=("0" if signature[0] != "0" else "1") + signature[1:])
    other_key = put_url.replace("media/s/new.jpg", "media/s/secret.jpg")
    longer = with_query(put_url, expires=str(int(time.time()) + 86400))
    expired = await local.url_for_put("media/s/new.jpg", expires=timedelta(seconds=-1))
    get_url = await local.url_for_get("media/s/secret.jpg")
    get_as_put = get_url  # a download URL does not allow an upload

    async with http_client(local) as client:
        refused = [
            await client.put(url, content=b"evil")
            for url in (tampered, other_key, longer, expired, get_as_put)
        ]
        unsigned = await client.get(f"{PUBLIC_URL}/v1/objects/media/s/secret.jpg")
        bad_expiry = await client.get(with_query(get_url, expires="soon"))
        non_ascii = await client.get(with_query(get_url, signature="é" * 64))

    for response in [*refused, unsigned, bad_expiry, non_ascii]:
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "Forbidden"
    assert "expired" in refused[3].json()["detail"]
    assert "signature" in refused[0].json()["detail"]
    assert not await local.exists("media/s/new.jpg")
    assert await local.get_bytes("media/s/secret.jpg") == b"secret"
    assert temp_files(local) == []


async def test_local_upload_bound_to_a_content_type(local: LocalStore) -> None:
    url = await local.url_for_put("crops/d/1.jpg", content_type="image/jpeg")
    tampered = with_query(url, content_type="text/html")

    async with http_client(local) as client:
        wrong_header = await client.put(url, content=b"x", headers={"Content-Type": "text/html"})
        wrong_query = await client.put(tampered, content=b"x")
        no_header = await client.put(url, content=b"jpeg")

    assert wrong_header.status_code == 403
    assert wrong_query.status_code == 403
    assert no_header.status_code == 200
    assert await local.stat("crops/d/1.jpg") == ObjectInfo("crops/d/1.jpg", 4, "image/jpeg")


async def test_local_signed_get_of_missing_object_is_404(local: LocalStore) -> None:
    url = await local.url_for_get("media/no/such.jpg")

    async with http_client(local) as client:
        response = await client.get(url)

    assert response.status_code == 404
    assert response.json()["error"] == "ObjectNotFound"


def test_signed_routes_have_stable_operation_ids(local: LocalStore) -> None:
    paths = signed_app(local).openapi()["paths"]["/v1/objects/{key}"]

    assert paths["get"]["operationId"] == "get_signed_object"
    assert paths["put"]["operationId"] == "put_signed_object"


async def test_s3_presigned_urls_use_the_public_endpoint(
    s3_server: S3Server, s3_bucket: str
) -> None:
    internal = create_store(
        s3_server.url(s3_bucket), s3_settings(s3_server), public_url=PUBLIC_URL, signing_key=b"k"
    )
    public = create_store(
        s3_server.url(s3_bucket),
        s3_settings(s3_server, public_endpoint="objects.example.org:9000"),
        public_url=PUBLIC_URL,
        signing_key=b"k",
    )
    tls = create_store(
        s3_server.url(s3_bucket),
        s3_settings(s3_server, public_endpoint="https://s3.example.org"),
        public_url=PUBLIC_URL,
        signing_key=b"k",
    )

    internal_url = urlsplit(await internal.url_for_get("media/ab/x.jpg"))
    public_get = urlsplit(await public.url_for_get("media/ab/x.jpg"))
    public_put = urlsplit(await public.url_for_put("media/ab/x.jpg"))
    tls_get = urlsplit(await tls.url_for_get("media/ab/x.jpg"))

    assert internal_url.netloc == s3_server.endpoint
    assert (public_get.scheme, public_get.netloc) == ("http", "objects.example.org:9000")
    assert (public_put.scheme, public_put.netloc) == ("http", "objects.example.org:9000")
    assert public_get.path == f"/{s3_bucket}/media/ab/x.jpg"
    assert "X-Amz-Signature" in parse_qs(public_get.query)
    assert (tls_get.scheme, tls_get.netloc) == ("https", "s3.example.org")


# -- readiness and configuration --------------------------------------------------------


async def test_ping_answers_for_a_working_store_and_leaves_it_as_it_was(
    store: ObjectStore,
) -> None:
    await store.put_bytes("kept/a.txt", b"a", "text/plain")
    before = await store.list("")

    # Readiness probes ping often: it answers (no error), and writes nothing.
    await store.ping()
    assert await store.list("") == before
    assert await store.get_bytes("kept/a.txt") == b"a"


async def test_ping_on_a_closed_port_raises_unavailable() -> None:
    store = create_store(
        f"s3://127.0.0.1:{free_port()}/bucket?secure=false&region=us-east-1",
        StorageSettings(access_key="a", secret_key="b"),
        public_url=PUBLIC_URL,
        signing_key=b"k",
    )
    # Refused, not retried for minutes: a probe that hangs would fail the bound here.
    with pytest.raises(Unavailable) as caught:
        await asyncio.wait_for(store.ping(), timeout=30)

    assert caught.value.status_code == 503
    await store.close()


async def test_s3_store_without_its_bucket_is_unavailable(s3_server: S3Server, unique: str) -> None:
    store = create_store(
        s3_server.url(f"{unique}-missing"),
        s3_settings(s3_server, create_bucket=False),
        public_url=PUBLIC_URL,
        signing_key=b"k",
    )
    await store.start()

    with pytest.raises(Unavailable):
        await store.ping()
    with pytest.raises(Unavailable):
        await store.put_bytes("a", b"x", "text/plain")


async def test_local_ping_fails_without_its_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "gone", public_url=PUBLIC_URL, signing_key=b"k", create=False)

    with pytest.raises(Unavailable):
        await store.start()
    with pytest.raises(Unavailable):
        await store.ping()


def test_create_store_picks_the_backend(tmp_path: Path, s3_server: S3Server) -> None:
    local = create_store(
        tmp_path.as_uri(), StorageSettings(), public_url=PUBLIC_URL, signing_key=b"k"
    )
    s3 = create_store(
        s3_server.url("b"), s3_settings(s3_server), public_url=PUBLIC_URL, signing_key=b"k"
    )

    assert isinstance(local, LocalStore)
    assert local.root == tmp_path
    assert isinstance(s3, S3Store)
    assert s3.bucket == "b"


@pytest.mark.parametrize(
    "url",
    [
        "s3://key:secret@127.0.0.1:9000/bucket",
        "s3://127.0.0.1:9000/",
        "s3://127.0.0.1:9000/bucket/extra",
        "s3://127.0.0.1:9000/bucket?secure=flase",
        "s3://127.0.0.1:9000/bucket?region=r&tls=false",
        "file://relative/folder",
        "ftp://host/x",
    ],
)
def test_create_store_refuses_bad_urls(url: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        create_store(url, StorageSettings(), public_url=PUBLIC_URL, signing_key=b"k")
