"""Loading the revocations in force from the catalogue: pages, retries, and giving up only on
configuration that cannot work."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.platform import eventually
from wildlens.common.auth import RevocationList
from wildlens.common.events import new_envelope, unpack
from wildlens.common.events.v1.devices_pb2 import DeviceRevoked
from wildlens.common.http import encode_cursor
from wildlens.common.service.clients import ServiceNotConfigured
from wildlens.ingest.consumers import device_revoked
from wildlens.ingest.revocation import RevocationLoader

LATER = (datetime.now(UTC) + timedelta(days=30)).isoformat()


def catalogue(ids: list[str], *, down_for: int = 0) -> tuple[httpx.AsyncClient, list[int]]:
    """A catalogue that fails ``down_for`` times, then pages ``ids`` two at a time."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= down_for:
            raise httpx.ConnectError("connection refused")
        cursor = request.url.params.get("cursor")
        start = ids.index(cursor_to_id[cursor]) + 1 if cursor else 0
        page = ids[start : start + 2]
        more = start + 2 < len(ids)
        next_cursor = encode_cursor([page[-1]]) if more else None
        if next_cursor:
            cursor_to_id[next_cursor] = page[-1]
        items = [
            {"token_id": i, "project_id": "p", "revoked_at": LATER, "expires_at": LATER}
            for i in page
        ]
        return httpx.Response(200, json={"items": items, "next_cursor": next_cursor})

    cursor_to_id: dict[str, str] = {}
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://c")
    return client, calls


async def test_every_page_is_loaded() -> None:
    client, _ = catalogue(["a", "b", "c", "d", "e"])
    revoked = RevocationList()
    loader = RevocationLoader(lambda: client, revoked)
    assert await loader.load() == 5
    assert sorted(revoked) == ["a", "b", "c", "d", "e"]
    assert loader.status()["loaded"] is True
    await client.aclose()


async def test_the_load_is_retried_until_the_catalogue_answers() -> None:
    client, calls = catalogue(["a"], down_for=3)
    revoked = RevocationList()
    loader = RevocationLoader(lambda: client, revoked, first_retry_s=0.01, max_retry_s=0.05)
    assert await loader.try_load() is False
    assert loader.status()["loaded"] is False
    assert "does not answer" in str(loader.status()["last_error"])

    async def loaded() -> bool:
        return loader.loaded

    loader.start()
    try:
        await eventually(loaded, timeout=5)
    finally:
        await loader.stop()
    assert "a" in revoked
    assert len(calls) == 4
    assert loader.status()["last_error"] is None


async def test_a_catalogue_nobody_configured_is_not_retried() -> None:
    def no_address() -> httpx.AsyncClient:
        raise ServiceNotConfigured("no address")

    loader = RevocationLoader(no_address, RevocationList(), first_retry_s=0.01)
    loader.start()
    # The background load gives up: its task ends instead of sleeping before another try.
    (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "ingest-revocations"]
    await asyncio.wait_for(task, timeout=5)
    assert loader.attempts == 1
    assert loader.status()["last_error"] == "no address"
    await loader.stop()


async def test_broadcasts_add_and_repeat_harmlessly() -> None:
    revoked = RevocationList()
    event = DeviceRevoked(token_id="t1", project_id="p", device_ids=["d"], revoked_by="admin")
    event.expires_at.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    envelope = new_envelope(event, producer="catalogue@test")
    for delivered in (envelope, envelope):
        await device_revoked.handle(revoked, unpack(delivered, DeviceRevoked))
    assert list(revoked) == ["t1"]
