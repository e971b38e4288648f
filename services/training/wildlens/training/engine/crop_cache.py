"""Crops named by object key, fetched once and concurrently into a local folder before training.

Read one at a time from the training loop, every crop costs a round trip to object storage in
every epoch (a few milliseconds each, more than decoding it), and the loop waits for each. A
dataset's crops are small (tens of kilobytes), so the trainer fetches them all at once, many
requests in flight, and every epoch reads them from the local disk. The local reader also works
in forked DataLoader workers, where a reader bound to the job's event loop would not.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wildlens.training.engine.samples import Reader

__all__ = ["FETCH_CONCURRENCY", "LocalCrops"]

# Requests in flight at once while fetching: enough to hide an object store's latency, few
# enough not to swamp it (the S3 client's connection pool holds 16).
FETCH_CONCURRENCY = 16


class LocalCrops:
    """A local copy of crops read from object storage.

    Args:
        read: reads an object's bytes by key; called from several threads at once.
        folder: where the copies are kept (made if missing). Copies already there are reused,
            so a folder that outlives a job spares a resumed job the fetch.
        concurrency: reads in flight at once while fetching.
    """

    def __init__(self, read: Reader, folder: Path, concurrency: int = FETCH_CONCURRENCY) -> None:
        self._read = read
        self.folder = folder
        self.concurrency = concurrency
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        # Hashed: a key's slashes and characters never become paths of their own.
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()}.jpg"

    def fetch(self, keys: Iterable[str]) -> int:
        """Copy every key not yet here; returns how many were read from object storage."""
        missing = sorted({k for k in keys if not self.path(k).exists()})
        if not missing:
            return 0
        with ThreadPoolExecutor(min(self.concurrency, len(missing))) as pool:
            # list() re-raises the first read that failed.
            list(pool.map(self._fetch_one, missing))
        return len(missing)

    def _fetch_one(self, key: str) -> None:
        data = self._read(key)
        target = self.path(key)
        # Written beside and renamed: a worker never reads half a crop.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".fetch-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, key: str) -> bytes:
        """The crop's bytes, from the local copy (read from object storage if it has none)."""
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            self._fetch_one(key)
            return self.path(key).read_bytes()
