"""Choosing the store from ``WILDLENS_STORAGE_URL``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from wildlens.common.settings import StorageSettings

from .base import ObjectStore
from .local import LocalStore
from .s3 import S3Location, S3Store

__all__ = ["create_store"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _flag(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"storage URL parameter {name}={value!r} is neither true nor false")


def _s3_location(url: str) -> S3Location:
    parts = urlsplit(url)
    bucket = parts.path.strip("/")
    if not parts.hostname or not bucket or "/" in bucket:
        raise ValueError(f"S3 storage URL must be s3://host[:port]/bucket, not {url!r}")
    params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    # Unknown parameters are refused rather than ignored: a misspelt "secure" would otherwise
    # silently switch TLS on or off.
    unknown = set(params) - {"secure", "region"}
    if unknown:
        raise ValueError(f"unknown S3 storage URL parameters: {', '.join(sorted(unknown))}")
    return S3Location(
        endpoint=parts.netloc,
        bucket=bucket,
        secure=_flag("secure", params.get("secure", "true")),
        region=params.get("region") or "us-east-1",
    )


def create_store(
    url: str, settings: StorageSettings, *, public_url: str, signing_key: bytes
) -> ObjectStore:
    """The store a storage URL names; call ``start()`` on it before use.

    Args:
        url: ``file:///absolute/folder`` or ``s3://host:port/bucket?secure=false&region=r``.
        settings: credentials, public endpoint and whether to create the bucket or folder.
        public_url: base URL of this process, for the local store's signed routes.
        signing_key: secret for the local store's signed URLs.

    Raises:
        ValueError: the URL is malformed, has an unknown scheme or carries credentials.
    """
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValueError(
            "storage URLs carry no credentials; set WILDLENS_STORAGE__ACCESS_KEY and "
            "WILDLENS_STORAGE__SECRET_KEY instead"
        )
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query:
            raise ValueError(f"file storage URL must be file:///absolute/folder, not {url!r}")
        root = Path(unquote(parts.path))
        if not root.is_absolute():
            raise ValueError(f"file storage URL must name an absolute folder, not {url!r}")
        return LocalStore(
            root, public_url=public_url, signing_key=signing_key, create=settings.create_bucket
        )
    if parts.scheme == "s3":
        return S3Store(_s3_location(url), settings)
    raise ValueError(f"unsupported storage URL scheme {parts.scheme!r}; use file:// or s3://")
