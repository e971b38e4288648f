"""Verifying an external identity provider's JWTs, for the token exchange.

A provider publishes its public keys as a JWKS document. Keys are fetched once and kept; a
token naming a key id not seen yet triggers a fetch (providers rotate keys by publishing the
new one first), but at most once per ``jwks_min_refetch_s``, so that a stream of tokens with
made-up key ids costs the provider nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import structlog

from wildlens.common.errors import Unauthorized, Unavailable
from wildlens.common.settings import AuthSettings, ExternalIssuerSettings

__all__ = ["ExternalIdentity", "ExternalVerifier", "JwksCache", "SigningKey"]

log = structlog.get_logger(__name__)

# Asymmetric algorithms only: accepting HS* would let anyone holding the (public) JWKS sign
# tokens, and "none" needs no key at all.
_FAMILIES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
ALGORITHMS = [f"{p}{bits}" for p in _FAMILIES for bits in (256, 384, 512)]
# Tolerated difference between the provider's clock and ours, for exp, iat and nbf.
CLOCK_SKEW_S = 30
# Memberships name subjects in a column of this width.
MAX_SUBJECT_LENGTH = 200


@dataclass(frozen=True)
class SigningKey:
    kid: str | None
    jwk: jwt.PyJWK
    # The algorithm the provider pinned the key to, if it did.
    algorithm: str | None


def _signing_keys(document: Any) -> list[SigningKey]:
    """The signature keys of a JWKS document; keys of other uses or unknown types are skipped
    (a provider may publish encryption keys or newer key types beside its signing keys)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    found = []
    for raw in document["keys"]:
        if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
            continue
        try:
            jwk = jwt.PyJWK(raw)
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue
        alg = raw.get("alg")
        found.append(SigningKey(jwk.key_id, jwk, alg if isinstance(alg, str) else None))
    if not found:
        raise ValueError("the JWKS document holds no usable signing key")
    return found


@dataclass(frozen=True)
class ExternalIdentity:
    """A verified external token: whose it is, and what it said."""

    issuer: ExternalIssuerSettings
    # ``<issuer name>:<subject claim>``: the subject Wildlens knows the user by.
    subject: str
    claims: dict[str, Any] = field(default_factory=dict)


class JwksCache:
    """One provider's signing keys, fetched over HTTP and kept.

    Args:
        url: the provider's JWKS document.
        max_age_s: keys are fetched again after this long.
        min_refetch_s: never fetch more often than this, whatever tokens arrive.
        timeout_s: for one fetch.
        transport: an httpx transport (tests); the default one otherwise.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        url: str,
        *,
        max_age_s: float = 3600,
        min_refetch_s: float = 30,
        timeout_s: float = 5,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._max_age_s = max_age_s
        self._min_refetch_s = min_refetch_s
        self._timeout_s = timeout_s
        self._transport = transport
        self._clock = clock
        self._keys: dict[str | None, SigningKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    def _lookup(self, kid: str | None) -> SigningKey | None:
        if kid is None and len(self._keys) == 1:
            # A provider with a single key may leave kid out of its tokens.
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._max_age_s

    def _may_fetch(self) -> bool:
        return (
            self._attempted_at is None or self._clock() - self._attempted_at >= self._min_refetch_s
        )

    async def key(self, kid: str | None) -> SigningKey:
        """The key a token names; raises Unauthorized for a key the provider does not publish,
        Unavailable when its keys cannot be fetched at all."""
        found = self._lookup(kid)
        if found is not None and self._fresh():
            return found
        async with self._lock:
            # Another request may have fetched while this one waited for the lock.
            found = self._lookup(kid)
            if (found is None or not self._fresh()) and self._may_fetch():
                await self._fetch()
                found = self._lookup(kid)
        if found is None and not self._keys:
            raise Unavailable("the identity provider's keys could not be fetched; try again later")
        if found is None:
            raise Unauthorized(f"invalid token: the issuer publishes no signing key {kid!r}")
        return found

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=self._timeout_s
            ) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
            keys = _signing_keys(document)
        except (httpx.HTTPError, ValueError) as exc:
            if self._keys:
                # Keys already held stay good; a provider's hiccup should not log everyone out.
                log.warning("jwks_refresh_failed", url=self.url, error=str(exc))
                return
            raise Unavailable(f"the identity provider's keys could not be fetched: {exc}") from exc
        self._keys = {k.kid: k for k in keys}
        self._fetched_at = self._clock()


class ExternalVerifier:
    """Verifies tokens of the configured external issuers.

    Args:
        settings: the platform's auth settings (issuers and JWKS cache timings).
        transport: an httpx transport for the JWKS fetches (tests).
    """

    def __init__(
        self, settings: AuthSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._issuers = {i.issuer: i for i in settings.external_issuers}
        self._jwks = {
            i.issuer: JwksCache(
                i.jwks_url,
                max_age_s=settings.jwks_max_age_s,
                min_refetch_s=settings.jwks_min_refetch_s,
                timeout_s=settings.jwks_timeout_s,
                transport=transport,
            )
            for i in settings.external_issuers
        }

    async def verify(self, token: str) -> ExternalIdentity:
        """Check issuer, signature, audience and expiry; raises Unauthorized with the reason."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise Unauthorized(
                f"invalid token: algorithm {algorithm!r} is not accepted; "
                f"one of {', '.join(ALGORITHMS)} is"
            )
        claimed_issuer = unverified.get("iss")
        config = self._issuers.get(claimed_issuer) if isinstance(claimed_issuer, str) else None
        if config is None:
            raise Unauthorized(f"invalid token: issuer {claimed_issuer!r} is not trusted")
        kid = header.get("kid")
        key = await self._jwks[config.issuer].key(kid if isinstance(kid, str) else None)
        # A key is for one family; an RSA key must not be tried with an EC algorithm, nor with
        # a different algorithm than the one the provider pinned it to.
        if _FAMILIES[algorithm[:2]] != key.jwk.key_type or key.algorithm not in (None, algorithm):
            raise Unauthorized(f"invalid token: key {kid!r} is not for algorithm {algorithm}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[algorithm],
                audience=config.audience,
                issuer=config.issuer,
                leeway=CLOCK_SKEW_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized(f"invalid token: audience is not accepted ({exc})") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("invalid token: signature verification failed") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc
        subject = claims.get(config.subject_claim)
        if isinstance(subject, int) and not isinstance(subject, bool):
            subject = str(subject)
        if not isinstance(subject, str) or not subject:
            raise Unauthorized(f"invalid token: no {config.subject_claim!r} claim")
        wildlens_subject = f"{config.name}:{subject}"
        if len(wildlens_subject) > MAX_SUBJECT_LENGTH:
            raise Unauthorized(f"invalid token: subject longer than {MAX_SUBJECT_LENGTH}")
        return ExternalIdentity(issuer=config, subject=wildlens_subject, claims=claims)
