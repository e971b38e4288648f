"""``POST /v1/media`` as gateways meet it: streamed, limited, idempotent, rate limited,
measured, and unhurt by hostile names and cut-off uploads; on both backends."""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from tests.conftest import free_port
from tests.support import bad_files
from tests.support.api import Site, bearer, create_site, ok, post_media
from tests.support.factories import Uploads
from tests.support.platform import RunningPlatform, admin_token, eventually, get_media, running
from wildlens.common.settings import Settings
from wildlens.ingest.models import IdempotencyKey, IngestedMedia
from wildlens.ingest.runtime import IngestRuntime
from wildlens.ingest.settings import IngestSettings

BOUNDARY = "wildlens-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"

# Media go up through ingest to the catalogue; nothing here needs the other services.
pytestmark = pytest.mark.services("catalogue", "ingest")


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (seed % 256, (seed * 7) % 256, (seed * 13) % 256)).save(
        buffer, format="JPEG", quality=90
    )
    return buffer.getvalue()


def file_head(filename: str = "big.jpg", fields: dict[str, str] | None = None) -> bytes:
    out = b""
    for name, value in (fields or {}).items():
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    return (
        out
        + (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
    )


def file_tail() -> bytes:
    return f"\r\n--{BOUNDARY}--\r\n".encode()


class Body:
    """A multipart body streamed in chunks, recording how much of it was read."""

    def __init__(self, head: bytes, total: int, *, fail_after: int | None = None) -> None:
        self.head, self.total, self.fail_after = head, total, fail_after
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        self.pulled += len(self.head)
        while self.pulled < self.total:
            if self.fail_after is not None and self.pulled >= self.fail_after:
                raise ConnectionResetError("the gateway's link dropped")
            chunk = b"\0" * 65536
            self.pulled += len(chunk)
            yield chunk
        yield file_tail()


async def nothing_left(wl: Any) -> None:
    """No object, no media row, nothing staged for publishing."""
    assert list(await wl.platform.store.list("media/")) == []
    ingest = wl.platform.contexts["ingest"]
    async with ingest.db.transaction() as session:
        count = select(func.count()).select_from(IngestedMedia)
        rows = (await (await session.connection()).execute(count)).scalar_one()
    assert rows == 0
    assert await ingest.relay.relay_once() == 0


@pytest.fixture
def upload_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where uploads are spooled during the test, to see that nothing stays there."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


async def test_an_oversized_image_is_refused_while_it_streams(
    settings_for: Any, upload_tmp: Path
) -> None:
    settings = settings_for(
        ingest=IngestSettings(max_image_bytes=512 * 1024, max_video_bytes=64 * 1024 * 1024)
    )
    async with running(settings) as wl:
        site = await create_site(wl.client, admin_token(settings))
        body = Body(file_head() + bad_files.small_jpeg(), total=256 * 1024 * 1024)
        response = await wl.client.post(
            "/v1/media",
            content=body,
            headers={**bearer(site.device_token), "Content-Type": CONTENT_TYPE},
        )
        assert response.status_code == 413, response.text
        assert "image is larger than the limit of 524288 bytes" in response.json()["detail"]
        # Refused at the image limit, not after the (much larger) video limit or the body.
        assert body.pulled < 1024 * 1024
        assert list(upload_tmp.iterdir()) == []
        await nothing_left(wl)


async def test_a_cut_off_upload_leaves_nothing_behind(
    upload_tmp: Path, wl: RunningPlatform, settings: Settings
) -> None:
    site = await create_site(wl.client, admin_token(settings))
    body = Body(
        file_head() + bad_files.small_jpeg(), total=8 * 1024 * 1024, fail_after=2 * 1024 * 1024
    )
    with pytest.raises(ConnectionResetError):
        await wl.client.post(
            "/v1/media",
            content=body,
            headers={**bearer(site.device_token), "Content-Type": CONTENT_TYPE},
        )
    assert list(upload_tmp.iterdir()) == []
    await nothing_left(wl)
    # The service is still up.
    await ok(await post_media(wl.client, site.device_token, data=jpeg(1)), 202)


async def test_a_client_that_hangs_up_on_a_real_server_leaves_nothing_behind(
    upload_tmp: Path, wl: RunningPlatform, settings: Settings
) -> None:
    import uvicorn

    site = await create_site(wl.client, admin_token(settings))
    before = await metric(wl, "wildlens_ingest_uploads_total", outcome="aborted")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(wl.app, host="127.0.0.1", port=port, lifespan="off", log_level="error")
    )
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), timeout=10)
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = file_head() + bad_files.small_jpeg()
        writer.write(
            (
                "POST /v1/media HTTP/1.1\r\nHost: wildlens.test\r\n"
                f"Authorization: Bearer {site.device_token}\r\n"
                f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
            ).encode()
            + head
            + b"\0" * (512 * 1024)
        )
        await writer.drain()
        # The upload is under way (spooling), then the gateway's link dies.
        await eventually(lambda: asyncio.sleep(0, any(upload_tmp.iterdir())), timeout=10)
        writer.transport.abort()
        await eventually(
            lambda: _moved(wl, "wildlens_ingest_uploads_total", before, outcome="aborted"),
            timeout=10,
        )
    finally:
        server.should_exit = True
        await serving
    assert list(upload_tmp.iterdir()) == []
    await nothing_left(wl)


async def _moved(wl: Any, name: str, before: float, **labels: str) -> bool:
    return await metric(wl, name, **labels) > before


async def test_idempotency_key_replays_the_first_answer(
    wl: RunningPlatform, settings: Settings
) -> None:
    site = await create_site(wl.client, admin_token(settings))
    key = {"Idempotency-Key": "gateway-7/RCNX0031"}
    ingest = wl.platform.contexts["ingest"]

    async def post(data: bytes, headers: dict[str, str]) -> Any:
        return await wl.client.post(
            "/v1/media",
            files={"file": ("x.jpg", data, "image/jpeg")},
            headers={**bearer(site.device_token), **headers},
        )

    first = await ok(await post(jpeg(1), key), 202)
    assert first["duplicate"] is False
    again = await ok(await post(jpeg(1), key), 202)
    assert again == {**first, "duplicate": True}

    response = await post(jpeg(2), key)
    assert response.status_code == 422
    body = response.json()
    assert "Idempotency-Key" in body["detail"]
    assert "different content" in body["detail"]
    assert body["fields"][0]["location"] == ["header", "Idempotency-Key"]

    # Another caller may use the same key for its own upload.
    admin = admin_token(settings, "someone")
    response = await wl.client.post(
        "/v1/media",
        files={"file": ("x.jpg", jpeg(3), "image/jpeg")},
        data={"project_id": site.project_id},
        headers={**bearer(admin), **key},
    )
    assert (await ok(response, 202))["duplicate"] is False

    # Content dedup holds without a key too.
    assert (await ok(await post(jpeg(1), {}), 202)) == again

    # Once the key has expired it is free again.
    async with ingest.db.transaction() as session:
        table = IdempotencyKey.__table__  # type: ignore[attr-defined]
        await (await session.connection()).execute(update(table).values(expires_at=_past()))
    fresh = await ok(await post(jpeg(2), key), 202)
    assert fresh["media_id"] != first["media_id"]
    assert fresh["duplicate"] is False

    # A malformed key is named.
    response = await post(jpeg(4), {"Idempotency-Key": "x" * 300})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.text


async def test_expired_keys_are_purged_with_keyed_uploads_once_a_minute(settings_for: Any) -> None:
    settings = settings_for()
    async with running(settings) as wl:
        site = await create_site(wl.client, admin_token(settings))
        ingest = wl.platform.contexts["ingest"]
        table = IdempotencyKey.__table__  # type: ignore[attr-defined]

        async def post(seed: int, key: str) -> None:
            response = await wl.client.post(
                "/v1/media",
                files={"file": ("x.jpg", jpeg(seed), "image/jpeg")},
                headers={**bearer(site.device_token), "Idempotency-Key": key},
            )
            await ok(response, 202)

        async def expire_all() -> None:
            async with ingest.db.transaction() as session:
                await (await session.connection()).execute(update(table).values(expires_at=_past()))

        async def keys() -> set[str]:
            async with ingest.db.transaction() as session:
                rows = await (await session.connection()).execute(select(table.c.key))
                return {row.key for row in rows}

        await post(1, "first")
        await expire_all()
        # Within the minute of the last purge, an expired key stays until the next one.
        await post(2, "second")
        assert await keys() == {"first", "second"}

        await expire_all()
        # A minute later.
        expiry = ingest.runtime_as(IngestRuntime).key_expiry
        assert expiry.purged_at is not None
        expiry.purged_at -= 60
        await post(3, "third")
        assert await keys() == {"third"}


def _past() -> Any:
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)


async def metric(wl: Any, name: str, **labels: str) -> float:
    """A sample's value as ``/metrics`` shows it (0 when absent)."""
    text = (await wl.client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def test_metrics_count_uploads_by_outcome_and_bytes(
    wl: RunningPlatform, settings: Settings
) -> None:
    site = await create_site(wl.client, admin_token(settings))
    names = [
        ("wildlens_ingest_uploads_total", {"outcome": "accepted"}),
        ("wildlens_ingest_uploads_total", {"outcome": "duplicate"}),
        ("wildlens_ingest_uploads_total", {"outcome": "rejected_unsupported_media"}),
        ("wildlens_ingest_uploads_total", {"outcome": "rejected_invalid"}),
        ("wildlens_ingest_received_bytes_total", {}),
        ("wildlens_ingest_duplicates_total", {"reason": "content"}),
        ("wildlens_ingest_upload_duration_seconds_count", {"outcome": "accepted"}),
    ]
    before = [await metric(wl, name, **labels) for name, labels in names]

    a, b, html = jpeg(10), jpeg(11), bad_files.html_named_jpg()
    await ok(await post_media(wl.client, site.device_token, data=a), 202)
    await ok(await post_media(wl.client, site.device_token, data=b), 202)
    await ok(await post_media(wl.client, site.device_token, data=a), 202)
    assert (await post_media(wl.client, site.device_token, data=html)).status_code == 415
    truncated = bad_files.truncated_jpeg()
    assert (await post_media(wl.client, site.device_token, data=truncated)).status_code == 422

    after = [await metric(wl, name, **labels) for name, labels in names]
    moved = [round(y - x, 6) for x, y in zip(before, after, strict=True)]
    total = len(a) * 2 + len(b) + len(html) + len(truncated)
    assert moved == [2, 1, 1, 1, total, 1, 2]


async def test_heic_images_are_accepted(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads
) -> None:
    import pillow_heif

    buffer = io.BytesIO()
    image = Image.new("RGB", (96, 64), (30, 140, 60))
    pillow_heif.from_pillow(image).save(buffer, quality=80)
    heic = buffer.getvalue()
    assert heic[4:12] == b"ftypheic"
    body = await ok(
        await upload.post(data=heic, filename="IMG_0001.HEIC"),
        202,
    )
    key = f"media/{body['sha256'][:2]}/{body['sha256']}.heic"
    assert await wl.platform.store.get_bytes(key) == heic
    media = await eventually(lambda: get_media(wl.client, admin, body["media_id"]))
    assert (media["width"], media["height"]) == (96, 64)
    # A HEIC cut in half is caught like any other truncated image.
    response = await upload.post(data=heic[: len(heic) // 2])
    assert response.status_code == 422, response.text


async def test_device_tokens_are_rate_limited_and_people_are_not(settings_for: Any) -> None:
    settings = settings_for(ingest=IngestSettings(rate_limit_per_minute=1, rate_limit_burst=2))
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        for i in range(2):
            await ok(await post_media(wl.client, site.device_token, data=jpeg(20 + i)), 202)
        response = await post_media(wl.client, site.device_token, data=jpeg(22))
        assert response.status_code == 429
        assert response.json()["error"] == "TooManyRequests"
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        # Another gateway's token has its own bucket.
        issued = await ok(
            await wl.client.post(
                f"/v1/projects/{site.project_id}/devices/{site.device_id}/token",
                headers=bearer(admin),
            ),
            201,
        )
        await ok(await post_media(wl.client, issued["token"], data=jpeg(23)), 202)
        for i in range(5):
            await ok(
                await post_media(
                    wl.client, admin, data=jpeg(30 + i), fields={"project_id": site.project_id}
                ),
                202,
            )


async def test_hostile_file_names_are_kept_only_as_safe_base_names(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    names = {
        "../../etc/passwd.jpg": "passwd.jpg",
        "C:\\x\\y.jpg": "y.jpg",
        "a\x00b.jpg": "ab.jpg",
        "x" * 400 + ".jpg": "x" * 251 + ".jpg",
    }
    for i, (sent, kept) in enumerate(names.items()):
        # Raw bytes: a client library would escape the NUL and the quotes itself.
        response = await wl.client.post(
            "/v1/media",
            content=file_head(filename=sent) + jpeg(40 + i) + file_tail(),
            headers={**bearer(site.device_token), "Content-Type": CONTENT_TYPE},
        )
        body = await ok(response, 202)
        media = await eventually(partial(get_media, wl.client, admin, body["media_id"]))
        assert media["filename"] == kept
    # Objects are named by content alone, whatever the client called the file.
    keys = [o.key if hasattr(o, "key") else str(o) for o in await wl.platform.store.list("")]
    assert all(".." not in k and "passwd" not in k for k in keys)


async def test_form_fields_are_validated_and_named_wherever_they_come(
    wl: RunningPlatform, settings: Settings
) -> None:
    site = await create_site(wl.client, admin_token(settings))
    for field, value in [
        ("latitude", "91"),
        ("longitude", "east"),
        ("captured_at", "2021-04-01 10:00"),
        ("device_id", "camera-1"),
    ]:
        # After the file, as some gateways send them: still checked, nothing stored.
        body = (
            file_head()
            + jpeg(50)
            + file_tail()[:-4]
            + (
                f'\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'
                f"--{BOUNDARY}--\r\n"
            ).encode()
        )
        response = await wl.client.post(
            "/v1/media",
            content=body,
            headers={**bearer(site.device_token), "Content-Type": CONTENT_TYPE},
        )
        assert response.status_code == 422, (field, response.text)
        assert response.json()["fields"][0]["location"] == ["body", field]
        assert field in response.json()["detail"]
    await nothing_left(wl)
    response = await wl.client.post(
        "/v1/media",
        content=b"\xff\xd8\xff",
        headers={**bearer(site.device_token), "Content-Type": "image/jpeg"},
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["location"] == ["body", "file"]


async def test_the_upload_is_documented_as_a_multipart_form(tmp_path: Path) -> None:
    from tests.support.platform import embedded_settings

    settings = embedded_settings(tmp_path / "data")
    async with running(settings) as wl:
        spec = (await wl.client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/media"]["post"]
    assert operation["operationId"] == "post_media"
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"]
    assert schema["properties"]["file"]["format"] == "binary"
    assert set(schema["properties"]) == {
        "file", "project_id", "device_id", "deployment_id", "captured_at", "latitude", "longitude",
    }  # fmt: skip
    assert {p["name"] for p in operation["parameters"]} == {"Idempotency-Key"}
    assert {"202", "413", "415", "422", "429"} <= set(operation["responses"])
