"""Reading a staging object back and hashing it, off the event loop and in constant memory."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path

from wildlens.common.storage import ObjectStore
from wildlens.ingest.media import Received

_CHUNK = 1 << 20


def staging_key(upload_id: object, n: int) -> str:
    return f"staging/{upload_id}/{n}"


def staging_prefix(upload_id: object) -> str:
    return f"staging/{upload_id}/"


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def fetch_staged(store: ObjectStore, key: str) -> Received:
    """The staging object as a local temporary file with its real SHA-256 and size.

    The bytes are hashed as stored, not as the client claims: a PUT URL lets anyone holding it
    write anything. The caller owns the file (``with`` it). Raises ``ObjectNotFound``.
    """
    fd, name = tempfile.mkstemp(prefix="wildlens-staged-", suffix=".part")
    os.close(fd)
    path = Path(name)
    try:
        await store.download_to(key, path)
        sha256, size = await asyncio.to_thread(_digest, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(path=path, sha256=sha256, size=size)
