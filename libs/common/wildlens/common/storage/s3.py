"""Objects in an S3 bucket (MinIO, AWS, Ceph, ...): distributed mode's store.

The ``minio`` client is synchronous; every call that touches the network runs in a worker
thread so the event loop keeps serving while a large object moves.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from urllib3.util import Retry, Timeout

from wildlens.common.errors import Invalid, Unavailable
from wildlens.common.settings import StorageSettings

from .base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    DEFAULT_EXPIRY,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
)
from .keys import validate_key, validate_prefix

__all__ = ["S3Location", "S3Store"]

_T = TypeVar("_T")
# How many objects ``list`` asks about at once: S3 listings do not carry content types.
_STAT_CONCURRENCY = 16
_WRITE_BUFFER = 1 << 20
# How many objects ``get_many`` reads at once: each read waits on a round trip, not the CPU.
_READ_CONCURRENCY = 8


@dataclass(frozen=True)
class S3Location:
    """Where the bucket is, as read from ``s3://host:port/bucket?secure=...&region=...``."""

    endpoint: str
    bucket: str
    secure: bool = True
    region: str = "us-east-1"


def _http_client(*, connect_s: float, read_s: float, retries: Retry | bool) -> urllib3.PoolManager:
    # Honour SSL_CERT_FILE as the minio client's own default does, so a private CA keeps
    # working; the timeouts are ours, because minio's five minutes would stall readiness.
    return urllib3.PoolManager(
        timeout=Timeout(connect=connect_s, read=read_s),
        maxsize=16,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=retries,
    )


def _split_endpoint(value: str, default_secure: bool) -> tuple[str, bool]:
    """``host:port`` and whether TLS is used, from ``host:port`` or ``http(s)://host:port``."""
    if "://" not in value:
        return value.strip("/"), default_secure
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
        raise ValueError(
            f"storage public endpoint {value!r} must be host:port or http(s)://host:port"
        )
    return parts.netloc, parts.scheme == "https"


class S3Store(ObjectStore):
    """An :class:`ObjectStore` on one S3 bucket.

    Args:
        location: endpoint, bucket, TLS and region, from the storage URL.
        settings: credentials, the public endpoint for presigned URLs, and whether
            :meth:`start` creates the bucket.
    """

    def __init__(self, location: S3Location, settings: StorageSettings) -> None:
        if bool(settings.access_key) != bool(settings.secret_key):
            raise ValueError("set both the storage access key and secret key, or neither")
        access_key = settings.access_key
        secret_key = settings.secret_key.get_secret_value() if settings.secret_key else None
        self._bucket = location.bucket
        self._create_bucket = settings.create_bucket
        self._http = _http_client(
            connect_s=10,
            read_s=300,
            retries=Retry(total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        # The region is always given: without it minio asks the server for the bucket's
        # location before the first request, and could not presign offline.
        self._client = Minio(
            location.endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=location.secure,
            region=location.region,
            http_client=self._http,
        )
        # Readiness must answer quickly and say what it saw, so its probe does not retry.
        self._ping_http = _http_client(connect_s=3, read_s=5, retries=False)
        self._ping_client = Minio(
            location.endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=location.secure,
            region=location.region,
            http_client=self._ping_http,
        )
        # A presigned URL's signature covers the Host header, so URLs for browsers and
        # gateways are signed by a client that believes it talks to the public endpoint.
        # Presigning is computed locally; that client never opens a connection.
        self._signer = self._client
        if settings.public_endpoint:
            public_host, public_secure = _split_endpoint(settings.public_endpoint, location.secure)
            self._signer = Minio(
                public_host,
                access_key=access_key,
                secret_key=secret_key,
                secure=public_secure,
                region=location.region,
            )
        # The threads ``get_many`` spreads one batch's reads over; started on first use.
        self._readers: ThreadPoolExecutor | None = None

    @property
    def bucket(self) -> str:
        return self._bucket

    # -- error translation ---------------------------------------------------------------

    @contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except S3Error as exc:
            if exc.code == "NoSuchKey" and key is not None:
                raise ObjectNotFound(key) from None
            if exc.code == "NoSuchBucket":
                raise Unavailable(f"the storage bucket {self._bucket!r} does not exist") from exc
            raise Unavailable(f"the object store refused the request: {exc.code}") from exc
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise Unavailable(f"the object store does not answer: {exc}") from exc

    async def _run(self, key: str | None, fn: Callable[[], _T]) -> _T:
        with self._errors(key):
            return await asyncio.to_thread(fn)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._create_bucket:
            await self._run(None, self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        if self._client.bucket_exists(self._bucket):
            return
        try:
            self._client.make_bucket(self._bucket)
        except S3Error as exc:
            # Several services start at once and race to create it; losing is fine.
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    async def close(self) -> None:
        if self._readers is not None:
            self._readers.shutdown(wait=False, cancel_futures=True)
            self._readers = None
        self._http.clear()
        self._ping_http.clear()

    async def ping(self) -> None:
        def probe() -> bool:
            return self._ping_client.bucket_exists(self._bucket)

        if not await self._run(None, probe):
            raise Unavailable(f"the storage bucket {self._bucket!r} does not exist")

    # -- writing -------------------------------------------------------------------------

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        validate_key(key)
        # fput_object switches to a multipart upload for large files; S3 makes the object
        # visible only when the upload completes, which is the atomicity asked for.
        await self._run(
            None,
            lambda: self._client.fput_object(
                self._bucket, key, str(path), content_type=content_type
            ),
        )

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        validate_key(key)
        await self._run(
            None,
            lambda: self._client.put_object(
                self._bucket, key, io.BytesIO(data), len(data), content_type=content_type
            ),
        )

    # -- reading -------------------------------------------------------------------------

    def _get_bytes_sync(self, key: str) -> bytes:
        response = self._client.get_object(self._bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    async def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        return await self._run(key, lambda: self._get_bytes_sync(key))

    async def get_many(self, keys: Sequence[str]) -> list[bytes]:
        for key in keys:
            validate_key(key)
        unique = list(dict.fromkeys(keys))
        if self._readers is None:
            self._readers = ThreadPoolExecutor(
                max_workers=_READ_CONCURRENCY, thread_name_prefix="s3-read"
            )
        readers = self._readers

        def read(key: str) -> bytes:
            with self._errors(key):
                return self._get_bytes_sync(key)

        def read_all() -> dict[str, bytes]:
            # The batch's round trips overlap on the store's readers; the event loop is woken
            # once, when the last one is back.
            if len(unique) == 1:
                return {unique[0]: read(unique[0])}
            return dict(zip(unique, readers.map(read, unique), strict=True))

        found = await asyncio.to_thread(read_all)
        return [found[key] for key in keys]

    async def stream(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        validate_key(key)
        response = await self._run(key, lambda: self._client.get_object(self._bucket, key))
        try:
            while chunk := await self._run(key, lambda: response.read(chunk_size)):
                yield chunk
        finally:
            # Closing before the body is read to the end drops the connection instead of
            # returning it to the pool, where a half-read body would poison the next request.
            response.close()
            response.release_conn()

    def _download_sync(self, key: str, path: Path) -> None:
        response = self._client.get_object(self._bucket, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written beside the destination and renamed: the destination never holds a
            # partial download, and the rename cannot cross filesystems.
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as target:
                    while chunk := response.read(_WRITE_BUFFER):
                        target.write(chunk)
                    target.flush()
                    os.fsync(target.fileno())
                os.replace(name, path)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise
        finally:
            response.close()
            response.release_conn()

    async def download_to(self, key: str, path: Path) -> None:
        validate_key(key)
        await self._run(key, lambda: self._download_sync(key, path))

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except ObjectNotFound:
            return False
        return True

    async def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        result = await self._run(key, lambda: self._client.stat_object(self._bucket, key))
        return ObjectInfo(
            key,
            result.size or 0,
            result.content_type or DEFAULT_CONTENT_TYPE,
            result.last_modified,
        )

    async def delete(self, key: str) -> None:
        validate_key(key)
        # S3 answers a delete of a missing key with success; some S3-compatible servers answer
        # NoSuchKey instead, which means the same here.
        with suppress(ObjectNotFound):
            await self._run(key, lambda: self._client.remove_object(self._bucket, key))

    async def list(self, prefix: str) -> list[ObjectInfo]:
        validate_prefix(prefix)

        def keys() -> list[str]:
            listing = self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
            return [item.object_name for item in listing if item.object_name and not item.is_dir]

        names = await self._run(None, keys)
        limit = asyncio.Semaphore(_STAT_CONCURRENCY)

        async def info(name: str) -> ObjectInfo | None:
            async with limit:
                try:
                    return await self.stat(name)
                except (ObjectNotFound, Invalid):
                    # Deleted since the listing, or written by something that does not
                    # follow our key rules.
                    return None

        found = await asyncio.gather(*(info(name) for name in names))
        return sorted((item for item in found if item is not None), key=lambda i: i.key)

    # -- presigned URLs ------------------------------------------------------------------

    def _presign(self, sign: Callable[[], str]) -> str:
        try:
            return sign()
        except ValueError as exc:
            # minio refuses expiries outside one second to seven days.
            raise Invalid(f"cannot presign this URL: {exc}") from None

    async def url_for_get(self, key: str, expires: timedelta = DEFAULT_EXPIRY) -> str:
        validate_key(key)
        return self._presign(
            lambda: self._signer.presigned_get_object(self._bucket, key, expires=expires)
        )

    async def url_for_put(
        self,
        key: str,
        expires: timedelta = DEFAULT_EXPIRY,
        content_type: str | None = None,
    ) -> str:
        validate_key(key)
        # A query-signed S3 URL covers only the Host header, so the content type cannot be
        # bound into it; the uploader's Content-Type header is stored as sent.
        return self._presign(
            lambda: self._signer.presigned_put_object(self._bucket, key, expires=expires)
        )
