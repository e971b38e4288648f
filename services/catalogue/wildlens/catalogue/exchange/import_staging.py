"""Where an import job's files wait between their upload and the job: ``staging/imports/<job
id>/<n>``, one object per declared file, PUT by the caller with URLs the object store signs
(presigned S3 URLs, or the platform's signed route in embedded mode), as bulk uploads do."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from pathlib import Path

from wildlens.catalogue.exchange.archives import size_text
from wildlens.common.errors import Invalid
from wildlens.common.storage import ObjectStore

__all__ = [
    "STAGING_ROOT",
    "UPLOAD_URL_TTL",
    "fetch_staged",
    "remove_staged",
    "staged_sizes",
    "staging_key",
    "staging_prefix",
]

STAGING_ROOT = "staging/imports/"
# Asking for the job again while it awaits its files gives fresh URLs.
UPLOAD_URL_TTL = timedelta(hours=1)
_CHUNK = 4 << 20


def staging_prefix(job_id: uuid.UUID) -> str:
    return f"{STAGING_ROOT}{job_id}/"


def staging_key(job_id: uuid.UUID, n: int) -> str:
    return f"{staging_prefix(job_id)}{n}"


async def staged_sizes(store: ObjectStore, job_id: uuid.UUID) -> dict[int, int]:
    """The size of each file the job has received, by its number."""
    prefix = staging_prefix(job_id)
    sizes: dict[int, int] = {}
    for info in await store.list(prefix):
        name = info.key[len(prefix) :]
        if name.isdigit():
            sizes[int(name)] = info.size
    return sizes


async def fetch_staged(store: ObjectStore, key: str, target: Path, size: int, name: str) -> None:
    """The staged object into ``target``, in constant memory; refused as soon as it holds
    more than the ``size`` declared (a PUT URL lets its holder write anything, any time until
    it expires), or when it holds less."""
    written = 0
    chunks = store.stream(key, _CHUNK)
    try:
        with target.open("xb") as sink:
            async for chunk in chunks:
                written += len(chunk)
                if written > size:
                    raise Invalid(
                        f"{name} is larger than the {size_text(size)} declared for it; "
                        "nothing was imported"
                    )
                await asyncio.to_thread(sink.write, chunk)
    finally:
        with contextlib.suppress(Exception):
            await chunks.aclose()  # type: ignore[attr-defined]
    if written != size:
        raise Invalid(
            f"{name} holds {written} bytes, not the {size} declared; nothing was imported"
        )


async def remove_staged(store: ObjectStore, job_id: uuid.UUID) -> None:
    for info in await store.list(staging_prefix(job_id)):
        await store.delete(info.key)
