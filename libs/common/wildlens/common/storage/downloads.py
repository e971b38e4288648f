"""The bytes behind a download URL another service handed out.

The catalogue never hands out object keys; its media lists carry a short-lived URL per item (a
presigned S3 URL, or in embedded mode a signed route of this same process). A service that
reads media downloads through that URL, so it reads exactly what the catalogue let it read. A
signed route of the local store is resolved in-process: its signature is checked as the route
would check it, then the object is read from the store directly.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from wildlens.common.errors import Unavailable

from .base import ObjectStore
from .local import LocalStore
from .signing import OBJECTS_PATH

__all__ = ["DOWNLOAD_TIMEOUT", "download"]

DOWNLOAD_TIMEOUT = httpx.Timeout(30.0)


async def download(store: ObjectStore, url: str, client: httpx.AsyncClient | None = None) -> bytes:
    """The bytes behind a download URL.

    Args:
        store: the object store, which serves the local store's signed routes itself.
        url: a URL from a catalogue media list.
        client: reused for presigned URLs when given (a backfill downloads thousands).
    """
    parts = urlsplit(url)
    if isinstance(store, LocalStore) and parts.path.startswith(OBJECTS_PATH + "/"):
        key = unquote(parts.path[len(OBJECTS_PATH) + 1 :])
        query = parse_qs(parts.query)
        store.check_signature(
            "GET", key, query.get("expires", [None])[0], query.get("signature", [None])[0]
        )
        return await store.get_bytes(key)
    try:
        if client is not None:
            response = await client.get(url, timeout=DOWNLOAD_TIMEOUT)
        else:
            async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT) as own:
                response = await own.get(url)
    except httpx.HTTPError as exc:
        raise Unavailable(f"object storage does not answer: {exc}") from exc
    if response.status_code != 200:
        raise Unavailable(f"object storage answered {response.status_code} for a media download")
    return response.content
