"""A bundle's objects written for one registration, removed again if it does not commit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import structlog

from wildlens.common.storage import ObjectStore

__all__ = ["StagedObjects", "staged_objects"]

log = structlog.get_logger(__name__)


class StagedObjects:
    """The objects one request wrote, so that a failure removes exactly those."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self.keys: list[str] = []

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        # Counted before the write: a write that fails halfway may still leave an object.
        self.keys.append(key)
        await self._store.put_file(key, path, content_type)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.keys.append(key)
        await self._store.put_bytes(key, data, content_type)

    async def discard(self) -> None:
        for key in reversed(self.keys):
            try:
                await self._store.delete(key)
            except Exception as exc:  # the registration's own error is the one to report
                log.warning("training.bundle_object_left", key=key, error=str(exc))
        self.keys.clear()


@contextlib.asynccontextmanager
async def staged_objects(store: ObjectStore) -> AsyncIterator[StagedObjects]:
    """Objects written inside the block are deleted when the block raises (a refused bundle, a
    conflict, a commit that fails), so a registration leaves its objects and its row or
    neither."""
    staged = StagedObjects(store)
    try:
        yield staged
    except BaseException:
        await staged.discard()
        raise
