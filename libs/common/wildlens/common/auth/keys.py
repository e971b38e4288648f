"""The platform's signing key pair.

Only the token issuer (the catalogue, and ``wildlens token``) needs the private key; every
other service verifies with the public key. In embedded mode a pair is generated once into the
data directory so that ``wildlens up`` and ``wildlens token`` agree without any set-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wildlens.common.settings import Settings

__all__ = ["KeyRing", "generate_pem_pair", "load_keyring"]


@dataclass(frozen=True)
class KeyRing:
    public_key: Ed25519PublicKey
    private_key: Ed25519PrivateKey | None = None

    @property
    def can_sign(self) -> bool:
        return self.private_key is not None


def generate_pem_pair() -> tuple[bytes, bytes]:
    """A new Ed25519 pair as (private PEM, public PEM)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def _private_from_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the signing key must be an Ed25519 private key")
    return key


def _public_from_pem(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the verification key must be an Ed25519 public key")
    return key


def _embedded_pair(data_dir: Path) -> tuple[bytes, bytes]:
    folder = data_dir / "keys"
    private_path, public_path = folder / "signing-key.pem", folder / "signing-key.pub.pem"
    if not private_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        private_pem, public_pem = generate_pem_pair()
        tmp = private_path.with_suffix(".tmp")
        # The private key is readable by its owner only, and appears whole or not at all.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_pem)
        public_path.write_bytes(public_pem)
        os.replace(tmp, private_path)
    private_pem = private_path.read_bytes()
    public_pem = (
        _private_from_pem(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private_pem, public_pem


def load_keyring(settings: Settings) -> KeyRing:
    """The keys as configured; in embedded mode, generated in the data directory if absent."""
    auth = settings.auth
    private_pem: bytes | None = None
    if auth.private_key is not None:
        private_pem = auth.private_key.get_secret_value().encode()
    elif auth.private_key_file is not None:
        private_pem = auth.private_key_file.read_bytes()
    public_pem: bytes | None = None
    if auth.public_key is not None:
        public_pem = auth.public_key.encode()
    elif auth.public_key_file is not None:
        public_pem = auth.public_key_file.read_bytes()

    if private_pem is None and public_pem is None:
        if settings.mode != "embedded":
            raise ValueError(
                "no platform key configured: set WILDLENS_AUTH__PUBLIC_KEY(_FILE), and "
                "WILDLENS_AUTH__PRIVATE_KEY(_FILE) for the token issuer"
            )
        private_pem, public_pem = _embedded_pair(settings.data_dir)

    private = _private_from_pem(private_pem) if private_pem is not None else None
    public = _public_from_pem(public_pem) if public_pem is not None else None
    if public is None:
        assert private is not None
        public = private.public_key()
    return KeyRing(public_key=public, private_key=private)
