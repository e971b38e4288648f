"""Webhook signatures, as Stripe and GitHub sign theirs.

Every delivery carries ``Wildlens-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256, keyed with the rule's secret, of ``"<t>." + <the raw request body>``. A receiver
verifies it like this (Python; any language with HMAC-SHA256 does the same)::

    import hashlib, hmac, time

    def verify(secret: str, header: str, body: bytes, tolerance_s: int = 300) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(","))
        signed = parts["t"].encode() + b"." + body
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(parts["t"])) <= tolerance_s
        return fresh and hmac.compare_digest(expected, parts["v1"])

Sign over the bytes as received, before parsing the JSON. The timestamp is signed too, so a
captured request cannot be replayed later than the tolerance; the ``Wildlens-Delivery`` header
(the same on every retry of one alert) lets a receiver drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "Wildlens-Signature"
SCHEME = "v1"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Wildlens-Signature`` header value for ``body`` sent now (or at ``timestamp``)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={_digest(secret, t, body)}"


def verify(secret: str, header: str, body: bytes, *, tolerance_s: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of now."""
    try:
        parts = dict(p.strip().split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
        given = parts[SCHEME]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(_digest(secret, timestamp, body), given)
