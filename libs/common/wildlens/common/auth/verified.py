"""Tokens verified before: a gateway or a browser sends the same token with every request, and
checking its signature each time costs more than the rest of a small request's
authentication."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from wildlens.common.auth.keys import KeyRing
from wildlens.common.auth.principal import Principal
from wildlens.common.auth.tokens import verify_token_until

__all__ = ["VerifiedTokens"]


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    expires_at: int
    keys: KeyRing
    issuer: str


class VerifiedTokens:
    """The principals of the ``size`` tokens verified most recently.

    A token is answered from here only before it expires, and only for the keys and issuer it
    was verified with; anything else is verified again (and refused with the reason). Whether
    a token has been revoked is not remembered here: callers check that on every request.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[str, _Verified] = OrderedDict()

    def verify(self, token: str, keys: KeyRing, issuer: str) -> Principal:
        """The token's principal; raises Unauthorized as ``verify_token`` does."""
        entry = self._entries.get(token)
        if entry is not None:
            if entry.keys is keys and entry.issuer == issuer and time.time() < entry.expires_at:
                self._entries.move_to_end(token)
                return entry.principal
            del self._entries[token]
        principal, expires_at = verify_token_until(token, keys, issuer)
        self._entries[token] = _Verified(principal, expires_at, keys, issuer)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return principal
