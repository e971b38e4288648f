"""Object storage for a training loop that runs in a thread: crops read by key, and each
epoch's checkpoint kept under ``checkpoints/<job>/`` so that another worker resumes it.

The loop is synchronous (torch), the store asynchronous; each call is handed to the service's
event loop and waited for, so the loop never touches the store from a thread of its own.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from wildlens.common.storage import ObjectStore

__all__ = ["StoreCheckpoints", "StoreReader", "checkpoint_prefix"]

T = TypeVar("T")
_EPOCH = re.compile(r"epoch-(\d+)\.pt$")
# Generous: a read waits behind the loop's other work, and a stalled store fails the epoch.
_TIMEOUT_S = 300.0


def checkpoint_prefix(job_id: uuid.UUID) -> str:
    return f"checkpoints/{job_id}/"


class _Bridge:
    def __init__(self, store: ObjectStore, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.loop = loop

    def wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(_TIMEOUT_S)


class StoreReader(_Bridge):
    """Reads an object's bytes by key, from a training thread."""

    def __call__(self, key: str) -> bytes:
        return self.wait(self.store.get_bytes(key))


class StoreCheckpoints(_Bridge):
    """The engine's checkpoint store on object storage: one object per finished epoch, the
    older ones removed once the newer is stored (a checkpoint holds the optimiser state too,
    several times the model's size)."""

    def __init__(
        self, store: ObjectStore, loop: asyncio.AbstractEventLoop, job_id: uuid.UUID
    ) -> None:
        super().__init__(store, loop)
        self.prefix = checkpoint_prefix(job_id)

    def _epochs(self) -> list[tuple[int, str]]:
        found = []
        for info in self.wait(self.store.list(self.prefix)):
            match = _EPOCH.search(info.key)
            if match:
                found.append((int(match.group(1)), info.key))
        return sorted(found)

    def save(self, data: bytes, epoch: int) -> None:
        key = f"{self.prefix}epoch-{epoch:04d}.pt"
        self.wait(self.store.put_bytes(key, data, "application/octet-stream"))
        for _, older in self._epochs():
            if older != key:
                self.wait(self.store.delete(older))

    def load_latest(self) -> bytes | None:
        epochs = self._epochs()
        return self.wait(self.store.get_bytes(epochs[-1][1])) if epochs else None


async def remove_checkpoints(store: ObjectStore, job_id: uuid.UUID) -> None:
    """The job's checkpoints, once its model is exported (or it failed for good)."""
    for info in await store.list(checkpoint_prefix(job_id)):
        await store.delete(info.key)
