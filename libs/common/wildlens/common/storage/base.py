"""What every object store offers, whichever backend holds the bytes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from wildlens.common.errors import NotFound

__all__ = ["DEFAULT_CONTENT_TYPE", "ObjectInfo", "ObjectNotFound", "ObjectStore"]

DEFAULT_CONTENT_TYPE = "application/octet-stream"
DEFAULT_EXPIRY = timedelta(minutes=15)
DEFAULT_CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    # When the object was last written (UTC); ``None`` where the backend did not say. Not part
    # of what the object is: two looks at the same bytes under the same key are equal.
    modified: datetime | None = field(default=None, compare=False)


class ObjectNotFound(NotFound):
    """No object under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object {key!r}")
        self.key = key


class ObjectStore(ABC):
    """Async access to one bucket (S3) or one folder (local).

    Keys are checked by :func:`wildlens.common.storage.validate_key`; a bad key raises
    ``Invalid`` before anything is read or written. A backend that does not answer raises
    ``Unavailable``.
    """

    @abstractmethod
    async def start(self) -> None:
        """Prepare the store (create the bucket or folder when configured to)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""

    @abstractmethod
    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the file at ``path`` under ``key``, replacing any object there.

        Readers see either the previous object or the whole new one, never a part.

        Args:
            key: the object key.
            path: a local file; ``FileNotFoundError`` if it does not exist.
            content_type: returned by :meth:`stat` and served with the object.
        """

    @abstractmethod
    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, as :meth:`put_file` does."""

    @abstractmethod
    async def get_bytes(self, key: str) -> bytes:
        """The whole object in memory; for small objects. Raises ``ObjectNotFound``."""

    @abstractmethod
    async def get_many(self, keys: Sequence[str]) -> list[bytes]:
        """Each object's bytes, in the order of ``keys``, read in one trip to a worker
        thread: for batches of small objects, where a trip per object costs more than the
        read. A key given twice is read once.

        Raises:
            Invalid: a bad key, before anything is read.
            ObjectNotFound: a key with no object (the first one met).
        """

    @abstractmethod
    def stream(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The object in chunks of at most ``chunk_size`` bytes, in constant memory.

        ``ObjectNotFound`` is raised when iteration starts. Close the iterator
        (``aclose()``) when stopping early so that the file or connection is released at once.
        """

    @abstractmethod
    async def download_to(self, key: str, path: Path) -> None:
        """Write the object to ``path`` (parents created); ``path`` appears only when complete.

        Raises ``ObjectNotFound``.
        """

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abstractmethod
    async def stat(self, key: str) -> ObjectInfo:
        """Size and content type of the object. Raises ``ObjectNotFound``."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""

    @abstractmethod
    async def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a plain string prefix), by key."""

    @abstractmethod
    async def url_for_get(self, key: str, expires: timedelta = DEFAULT_EXPIRY) -> str:
        """A URL anyone holding it can download the object from until ``expires`` has passed.

        The object need not exist yet; the URL then answers 404.
        """

    @abstractmethod
    async def url_for_put(
        self,
        key: str,
        expires: timedelta = DEFAULT_EXPIRY,
        content_type: str | None = None,
    ) -> str:
        """A URL anyone holding it can upload the object to with ``PUT`` until ``expires``.

        Args:
            key: the object key.
            expires: how long the URL is valid.
            content_type: the type the uploader should send as ``Content-Type``. The local
                store binds it into the signature; presigned S3 URLs cannot, so there the
                uploader's header is stored as sent.
        """

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``Unavailable`` unless the backend answers and the bucket or folder exists."""
