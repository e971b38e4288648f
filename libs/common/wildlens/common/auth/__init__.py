"""Identity: JWTs signed with the platform's Ed25519 key, verified by every service with the
public key alone; roles per project; device tokens that can only post media."""

from wildlens.common.auth.external import ExternalIdentity, ExternalVerifier
from wildlens.common.auth.keys import KeyRing, load_keyring
from wildlens.common.auth.principal import PERMISSIONS, ROLES, Principal, Role
from wildlens.common.auth.revocations import RevocationList
from wildlens.common.auth.tokens import TokenIssuer, verify_token
from wildlens.common.auth.verified import VerifiedTokens

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "ExternalIdentity",
    "ExternalVerifier",
    "KeyRing",
    "Principal",
    "RevocationList",
    "Role",
    "TokenIssuer",
    "VerifiedTokens",
    "load_keyring",
    "verify_token",
]
