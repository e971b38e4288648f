"""Objects as files below one folder: embedded mode's store.

Layout below the root::

    <key>                 the object's bytes, so the folder can be read with ordinary tools
    .meta/<key>.json      its content type
    .tmp/                 files being written; renamed into place only when complete

Keys never have a dot-leading segment (see ``keys.py``), so ``.meta`` and ``.tmp`` cannot
collide with an object. Temporary files live below the root so that ``os.replace`` never
crosses a filesystem and stays atomic.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Sequence
from contextlib import aclosing, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from wildlens.common.errors import Conflict, Invalid, Unavailable

from . import signing
from .base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    DEFAULT_EXPIRY,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
)
from .keys import validate_key, validate_prefix

__all__ = ["LocalStore"]

_META = ".meta"
_TMP = ".tmp"
# Left-over temporary files older than this are from a crashed writer. Younger ones may belong
# to another process writing to the same folder right now, so they are left alone.
_STALE_TMP_AGE_S = 24 * 3600
_COPY_BUFFER = 1 << 20


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once the directory holding it is flushed. Windows cannot open
    # a directory for that; there the rename alone has to do.
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore(ObjectStore):
    """An :class:`ObjectStore` on a local folder, with signed URLs served by this process.

    Args:
        root: the folder; an absolute path.
        public_url: base URL at which :func:`signed_objects_router` is reachable.
        signing_key: secret for signed URLs; the same in every process serving the routes.
        create: create the folder on :meth:`start` when it does not exist.
    """

    def __init__(
        self, root: Path, *, public_url: str, signing_key: bytes, create: bool = True
    ) -> None:
        if not root.is_absolute():
            raise ValueError(f"the local store's root must be an absolute path, not {root}")
        if not signing_key:
            raise ValueError("the local store needs a non-empty signing key for signed URLs")
        self._root = root
        self._public_url = public_url.rstrip("/")
        self._signing_key = signing_key
        self._create = create
        # The root with its own links resolved, once it exists (see ``_links_out``).
        self._resolved_root: Path | None = None

    @property
    def root(self) -> Path:
        return self._root

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._start_sync)

    def _start_sync(self) -> None:
        if self._create:
            self._root.mkdir(parents=True, exist_ok=True)
        elif not self._root.is_dir():
            raise Unavailable(f"the storage folder {self._root} does not exist")
        (self._root / _META).mkdir(exist_ok=True)
        (self._root / _TMP).mkdir(exist_ok=True)
        self._resolved_root = self._root.resolve()
        cutoff = time.time() - _STALE_TMP_AGE_S
        for leftover in (self._root / _TMP).iterdir():
            with suppress(OSError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        if not await asyncio.to_thread(self._usable):
            raise Unavailable(f"the storage folder {self._root} is missing or not writable")

    def _usable(self) -> bool:
        return (self._root / _TMP).is_dir() and os.access(self._root / _TMP, os.W_OK)

    # -- paths ---------------------------------------------------------------------------

    def _data_path(self, key: str) -> Path:
        path = self._root / validate_key(key)
        # The key rules already keep paths below the root; this also refuses a symlink
        # planted inside the folder that points out of it.
        if self._links_out(key, path):
            raise Invalid(f"object key {key!r} leads outside the store")
        return path

    def _links_out(self, key: str, path: Path) -> bool:
        """Whether ``path`` (the key's) resolves to somewhere outside the root."""
        root = self._resolved_root
        if root is None or os.name != "posix":
            # Windows' junctions are no links to lstat, yet resolving follows them.
            return not path.resolve().is_relative_to(self._root.resolve())
        # Only the key's own folders and name can be links planted by someone else: with
        # none of them a link, the path is below the root as written. Resolving the whole
        # path looked at every folder above the root too, for every read, which was a
        # measurable part of reading a small object.
        below = str(self._root)
        for segment in key.split("/"):
            below = f"{below}/{segment}"
            try:
                if stat.S_ISLNK(os.lstat(below).st_mode):
                    return not path.resolve().is_relative_to(root)
            except OSError:
                return False  # nothing below a missing name can be a link
        return False

    def _meta_path(self, key: str) -> Path:
        return self._root / _META / f"{key}.json"

    # -- writing -------------------------------------------------------------------------

    def _new_temp(self) -> tuple[Path, BinaryIO]:
        fd, name = tempfile.mkstemp(dir=self._root / _TMP, suffix=".part")
        return Path(name), os.fdopen(fd, "wb")

    def _temp_with(self, fill: Callable[[BinaryIO], object]) -> Path:
        """A complete, flushed temporary file filled by ``fill``; removed if ``fill`` fails."""
        path, handle = self._new_temp()
        try:
            with handle:
                fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    def _commit(self, key: str, data_tmp: Path, content_type: str) -> None:
        """Move a complete temporary file into place as ``key``, with its content type."""
        try:
            target = self._data_path(key)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise self._conflict(key) from None
            if target.is_dir():
                raise self._conflict(key)
            meta_tmp = self._temp_with(
                lambda f: f.write(json.dumps({"content_type": content_type}).encode())
            )
            meta = self._meta_path(key)
            try:
                meta.parent.mkdir(parents=True, exist_ok=True)
                os.replace(meta_tmp, meta)
            except BaseException:
                meta_tmp.unlink(missing_ok=True)
                raise
            # The content type goes first: a reader between the two renames sees the new type
            # with the old bytes for an instant, never a partly written object.
            os.replace(data_tmp, target)
        except BaseException:
            # Only on failure: once renamed, the temporary name may already be another
            # writer's.
            data_tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        _fsync_dir(meta.parent)

    @staticmethod
    def _conflict(key: str) -> Conflict:
        return Conflict(
            f"object key {key!r} conflicts with an existing object: in the local store a key "
            "cannot be both an object and a folder of other objects"
        )

    def _put_file_sync(self, key: str, path: Path, content_type: str) -> None:
        self._data_path(key)
        with path.open("rb") as source:
            tmp = self._temp_with(lambda f: shutil.copyfileobj(source, f, _COPY_BUFFER))
        self._commit(key, tmp, content_type)

    def _put_bytes_sync(self, key: str, data: bytes, content_type: str) -> None:
        self._data_path(key)
        self._commit(key, self._temp_with(lambda f: f.write(data)), content_type)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await asyncio.to_thread(self._put_file_sync, key, path, content_type)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put_bytes_sync, key, data, content_type)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> int:
        """Store an async stream of chunks under ``key`` atomically; return its size.

        If the stream fails or is cancelled nothing is stored and the previous object stays.
        """
        self._data_path(key)
        path, handle = await asyncio.to_thread(self._new_temp)
        size = 0
        try:
            with handle:
                async for chunk in chunks:
                    await asyncio.to_thread(handle.write, chunk)
                    size += len(chunk)
                await asyncio.to_thread(handle.flush)
                await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        await asyncio.to_thread(self._commit, key, path, content_type)
        return size

    # -- reading -------------------------------------------------------------------------

    def _content_type(self, key: str) -> str:
        try:
            meta = json.loads(self._meta_path(key).read_bytes())
        except (OSError, ValueError):
            # A file placed in the folder by hand has no sidecar; serve it as opaque bytes.
            return DEFAULT_CONTENT_TYPE
        content_type = meta.get("content_type") if isinstance(meta, dict) else None
        return content_type if isinstance(content_type, str) else DEFAULT_CONTENT_TYPE

    def _open_sync(self, key: str) -> tuple[ObjectInfo, BinaryIO]:
        path = self._data_path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
            # PermissionError: opening a directory on Windows.
            raise ObjectNotFound(key) from None
        try:
            # The size of the file actually opened: a concurrent put replaces the name but not
            # this handle's content.
            size = os.fstat(handle.fileno()).st_size
            return ObjectInfo(key, size, self._content_type(key)), handle
        except BaseException:
            handle.close()
            raise

    async def open(
        self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> tuple[ObjectInfo, AsyncGenerator[bytes, None]]:
        """Open the object now: its info and its chunks, which belong to the same version.

        Raises ``ObjectNotFound`` at once, unlike :meth:`stream`, which is what a route needs
        to answer 404 before it starts a response. Iterate the chunks to the end or
        ``aclose()`` them.
        """
        info, handle = await asyncio.to_thread(self._open_sync, key)
        return info, self._chunks(handle, chunk_size)

    @staticmethod
    async def _chunks(handle: BinaryIO, chunk_size: int) -> AsyncGenerator[bytes, None]:
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def stream(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        _, chunks = await self.open(key, chunk_size)
        async with aclosing(chunks):
            async for chunk in chunks:
                yield chunk

    @staticmethod
    def _read(key: str, path: Path) -> bytes:
        # The bytes alone: the content type's sidecar is not read for them.
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
            # PermissionError: opening a directory on Windows.
            raise ObjectNotFound(key) from None

    def _get_bytes_sync(self, key: str) -> bytes:
        return self._read(key, self._data_path(key))

    async def get_bytes(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get_bytes_sync, key)

    def _get_many_sync(self, keys: Sequence[str]) -> list[bytes]:
        # Every key is checked before the first read.
        paths = {key: self._data_path(key) for key in keys}
        read = {key: self._read(key, path) for key, path in paths.items()}
        return [read[key] for key in keys]

    async def get_many(self, keys: Sequence[str]) -> list[bytes]:
        return await asyncio.to_thread(self._get_many_sync, keys)

    def _download_sync(self, key: str, path: Path) -> None:
        _, source = self._open_sync(key)
        with source:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as target:
                    shutil.copyfileobj(source, target, _COPY_BUFFER)
                    target.flush()
                    os.fsync(target.fileno())
                os.replace(name, path)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise

    async def download_to(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._download_sync, key, path)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(lambda: self._data_path(key).is_file())

    def _stat_sync(self, key: str) -> ObjectInfo:
        path = self._data_path(key)
        try:
            result = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        if not path.is_file():
            raise ObjectNotFound(key)
        modified = datetime.fromtimestamp(result.st_mtime, UTC)
        return ObjectInfo(key, result.st_size, self._content_type(key), modified)

    async def stat(self, key: str) -> ObjectInfo:
        return await asyncio.to_thread(self._stat_sync, key)

    def _delete_sync(self, key: str) -> None:
        path = self._data_path(key)
        if path.is_dir():
            return
        # Empty folders are left behind on purpose: removing one could race with a put
        # that has just created it.
        path.unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete_sync, key)

    def _list_sync(self, prefix: str) -> list[ObjectInfo]:
        base = self._root / validate_prefix(prefix).rpartition("/")[0]
        if not base.is_dir():
            return []
        found: list[ObjectInfo] = []
        for folder, dirs, files in os.walk(base):
            # Skip the bookkeeping folders (and anything else no valid key can name).
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.startswith("."):
                    continue
                path = Path(folder, name)
                key = path.relative_to(self._root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    found.append(self._stat_sync(key))
                except (ObjectNotFound, Invalid):
                    continue  # deleted meanwhile, or a file no key can name
        found.sort(key=lambda info: info.key)
        return found

    async def list(self, prefix: str) -> list[ObjectInfo]:
        return await asyncio.to_thread(self._list_sync, prefix)

    # -- signed URLs ---------------------------------------------------------------------

    def _signed(self, method: str, key: str, expires: timedelta, content_type: str | None) -> str:
        validate_key(key)
        expires_at = int(time.time() + expires.total_seconds())
        return signing.signed_url(
            self._public_url, self._signing_key, method, key, expires_at, content_type
        )

    async def url_for_get(self, key: str, expires: timedelta = DEFAULT_EXPIRY) -> str:
        return self._signed("GET", key, expires, None)

    async def url_for_put(
        self,
        key: str,
        expires: timedelta = DEFAULT_EXPIRY,
        content_type: str | None = None,
    ) -> str:
        return self._signed("PUT", key, expires, content_type)

    def check_signature(
        self,
        method: str,
        key: str,
        expires: str | None,
        signature: str | None,
        content_type: str | None = None,
    ) -> None:
        """Raise ``Forbidden`` unless the signed-route request carries a valid signature."""
        signing.verify(self._signing_key, method, key, expires, signature, content_type)
