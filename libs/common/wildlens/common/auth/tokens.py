"""Minting and verifying Wildlens tokens (EdDSA JWTs)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

import jwt

from wildlens.common.auth.keys import KeyRing
from wildlens.common.auth.principal import PERMISSIONS, ROLES, Principal
from wildlens.common.errors import Unauthorized

__all__ = ["TokenIssuer", "verify_token", "verify_token_until"]

ALGORITHM = "EdDSA"
# Marks tokens whose roles were copied from the catalogue's memberships.
ROLES_SOURCE_CLAIM = "roles_src"


class TokenIssuer:
    """Signs tokens; only where the private key is configured."""

    def __init__(self, keys: KeyRing, issuer: str) -> None:
        if keys.private_key is None:
            raise ValueError("this process has no signing key, so it cannot issue tokens")
        self._key = keys.private_key
        self.issuer = issuer

    def _sign(self, claims: dict[str, Any], ttl_s: int) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "iat": now, "exp": now + ttl_s, "jti": str(uuid.uuid4())}
        body.update(claims)
        return jwt.encode(body, self._key, algorithm=ALGORITHM)

    def user_token(
        self,
        subject: str,
        roles: dict[str, str],
        *,
        permissions: dict[str, list[str]] | None = None,
        ttl_s: int = 3600,
        from_memberships: bool = False,
    ) -> str:
        """A user's token. ``from_memberships``: the roles are a copy of the catalogue's
        memberships, which the catalogue itself reads live instead (token exchange)."""
        for project, role in roles.items():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r} for project {project}")
        for project, granted in (permissions or {}).items():
            unknown = set(granted) - PERMISSIONS
            if unknown:
                raise ValueError(f"unknown permissions {sorted(unknown)} for project {project}")
        claims: dict[str, Any] = {
            "sub": subject,
            "kind": "user",
            "roles": roles,
            "perms": permissions or {},
        }
        if from_memberships:
            claims[ROLES_SOURCE_CLAIM] = "memberships"
        return self._sign(claims, ttl_s)

    def device_token(
        self, project_id: str, device_ids: Iterable[str], *, subject: str, ttl_s: int
    ) -> tuple[str, str]:
        """A token that may only post media for these cameras; returns (token, token id)."""
        token_id = str(uuid.uuid4())
        claims = {
            "sub": subject,
            "kind": "device",
            "project": project_id,
            "devices": sorted(device_ids),
            "jti": token_id,
        }
        return self._sign(claims, ttl_s), token_id

    def service_token(self, service: str, *, ttl_s: int = 3600) -> str:
        return self._sign({"sub": f"service:{service}", "kind": "service"}, ttl_s)


def verify_token(token: str, keys: KeyRing, issuer: str) -> Principal:
    """Check signature, expiry and issuer; raises Unauthorized with the reason."""
    principal, _ = verify_token_until(token, keys, issuer)
    return principal


def verify_token_until(token: str, keys: KeyRing, issuer: str) -> tuple[Principal, int]:
    """:func:`verify_token`, with the time (Unix seconds) from which the token has expired."""
    try:
        claims = jwt.decode(
            token,
            keys.public_key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    kind = claims.get("kind", "user")
    if kind not in ("user", "device", "service"):
        raise Unauthorized(f"invalid token: unknown kind {kind!r}")
    if kind == "device":
        if not claims.get("project") or not isinstance(claims.get("devices"), list):
            raise Unauthorized("invalid token: a device token must name its project and devices")
        device = Principal(
            subject=claims["sub"],
            kind="device",
            project_id=str(claims["project"]),
            device_ids=tuple(str(d) for d in claims["devices"]),
            token_id=claims.get("jti"),
        )
        return device, int(claims["exp"])
    roles = claims.get("roles") or {}
    if not isinstance(roles, dict) or any(r not in ROLES for r in roles.values()):
        raise Unauthorized("invalid token: malformed roles")
    perms = claims.get("perms") or {}
    if not isinstance(perms, dict) or not all(
        isinstance(v, list) and all(isinstance(p, str) for p in v) for v in perms.values()
    ):
        raise Unauthorized("invalid token: malformed permissions")
    principal = Principal(
        subject=claims["sub"],
        kind=kind,
        roles={str(k): str(v) for k, v in roles.items()},
        permissions={str(k): list(v) for k, v in perms.items()},
        token_id=claims.get("jti"),
        roles_from_memberships=claims.get(ROLES_SOURCE_CLAIM) == "memberships",
        expires_at=int(claims["exp"]),
    )
    return principal, int(claims["exp"])
