"""Signed object URLs for the local store, the embedded-mode stand-in for presigned S3 URLs.

A URL carries ``expires`` (unix seconds) and ``signature``, the hex HMAC-SHA256 under the
platform's signing key of the method, the key, the expiry and, for uploads bound to one, the
content type. Whoever holds the URL may do that one thing to that one object until it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from wildlens.common.errors import Forbidden

__all__ = ["OBJECTS_PATH", "sign", "signed_url", "verify"]

OBJECTS_PATH = "/v1/objects"


def sign(
    signing_key: bytes, method: str, key: str, expires: int, content_type: str | None = None
) -> str:
    """Hex HMAC-SHA256 over the request's method, key, expiry and optional content type.

    Args:
        signing_key: the platform's secret; never empty.
        method: ``GET`` or ``PUT``.
        key: a validated object key.
        expires: unix time after which the signature is refused.
        content_type: for uploads, the content type the URL is bound to.
    """
    # Fields are joined by a newline, which no key or method contains: plain concatenation
    # would let key "a1" with expiry 23 share a signature with key "a" and expiry 123.
    message = "\n".join((method.upper(), key, str(expires), content_type or ""))
    return hmac.new(signing_key, message.encode(), hashlib.sha256).hexdigest()


def signed_url(
    public_url: str,
    signing_key: bytes,
    method: str,
    key: str,
    expires: int,
    content_type: str | None = None,
) -> str:
    """The URL of the signed route for one method on one object."""
    query: dict[str, str | int] = {
        "expires": expires,
        "signature": sign(signing_key, method, key, expires, content_type),
    }
    if content_type:
        query["content_type"] = content_type
    return f"{public_url.rstrip('/')}{OBJECTS_PATH}/{quote(key, safe='/')}?{urlencode(query)}"


def verify(
    signing_key: bytes,
    method: str,
    key: str,
    expires: str | None,
    signature: str | None,
    content_type: str | None = None,
    *,
    now: float | None = None,
) -> None:
    """Raise ``Forbidden`` unless ``signature`` is valid and unexpired for this request.

    Args:
        signing_key: the key the URL was signed with.
        method: the request's method.
        key: the object key from the request path.
        expires: the ``expires`` query parameter as received.
        signature: the ``signature`` query parameter as received.
        content_type: the ``content_type`` query parameter as received, if any.
        now: the current unix time; for tests.
    """
    if not expires or not signature:
        raise Forbidden("the URL is not signed: expires and signature are required")
    try:
        expires_at = int(expires)
    except ValueError:
        raise Forbidden("the URL's expires parameter is not a unix time") from None
    expected = sign(signing_key, method, key, expires_at, content_type)
    # Checked before expiry so that a forged URL learns nothing about its expiry.
    # Compared as bytes: compare_digest refuses non-ASCII strings, and this one comes from
    # whoever sent the request.
    if not hmac.compare_digest(expected.encode(), signature.lower().encode(errors="replace")):
        raise Forbidden("the URL's signature does not match; request a new URL")
    if (time.time() if now is None else now) > expires_at:
        raise Forbidden("the signed URL has expired; request a new URL")
