"""Stream an upload to a temporary file, hashing it and enforcing the size limit on the way.

The body never sits in memory whole: a gateway may post a multi-gigabyte transect video, and a
hostile client may post an endless stream, so the limit is checked as the bytes arrive.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from wildlens.common.errors import Invalid, PayloadTooLarge

__all__ = ["Received", "receive_to_tempfile"]

# Chunks from the ASGI server are small (often 64 KiB); gathering them into writes of this size
# keeps the number of thread hand-offs low while bounding memory per upload.
_WRITE_BUFFER = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Received:
    """An upload on local disk. The caller owns the file: ``discard()`` it, or use ``with``."""

    path: Path
    sha256: str
    size: int

    def discard(self) -> None:
        """Remove the temporary file; safe to call more than once."""
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Received:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


async def receive_to_tempfile(
    chunks: AsyncIterator[bytes], *, directory: Path | None, max_bytes: int
) -> Received:
    """Write ``chunks`` to a new temporary file while computing its SHA-256 and size.

    Args:
        chunks: the request body as it arrives.
        directory: where to put the file (``None``: the system's temporary directory). Use a
            directory on the same file system as the local object store to make the final
            move a rename.
        max_bytes: the largest accepted body.

    Raises:
        PayloadTooLarge: the body exceeds ``max_bytes``; nothing is left on disk.
        Invalid: the body is empty; nothing is left on disk.
    """
    digest = hashlib.sha256()
    size = 0
    pending: list[bytes] = []
    pending_size = 0
    handle: IO[bytes] = tempfile.NamedTemporaryFile(
        mode="wb", dir=directory, prefix="wildlens-upload-", suffix=".part", delete=False
    )
    path = Path(handle.name)
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"file is larger than the limit of {max_bytes} bytes")
            digest.update(chunk)
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= _WRITE_BUFFER:
                await asyncio.to_thread(_write_all, handle, pending)
                pending, pending_size = [], 0
        if size == 0:
            raise Invalid("file is empty")
        await asyncio.to_thread(_finish, handle, pending)
    except BaseException:
        # Also on cancellation (the client went away): never leave a partial upload behind.
        handle.close()
        path.unlink(missing_ok=True)
        raise
    return Received(path=path, sha256=digest.hexdigest(), size=size)


def _write_all(handle: IO[bytes], chunks: list[bytes]) -> None:
    for chunk in chunks:
        handle.write(chunk)


def _finish(handle: IO[bytes], chunks: list[bytes]) -> None:
    # No fsync: the file is a staging copy; durability is the object store's job.
    _write_all(handle, chunks)
    handle.close()
