"""A token sent with every request is verified once, and still refused once it expires, under
other keys, or for another issuer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wildlens.common.auth import KeyRing, TokenIssuer, VerifiedTokens, load_keyring
from wildlens.common.auth.keys import generate_pem_pair
from wildlens.common.errors import Unauthorized
from wildlens.common.settings import Settings


def _keys(directory: Path) -> KeyRing:
    private_pem, _ = generate_pem_pair()
    directory.mkdir()
    (directory / "key.pem").write_bytes(private_pem)
    return load_keyring(
        Settings(data_dir=directory, auth={"private_key_file": directory / "key.pem"})
    )


def test_a_token_is_answered_as_verified_until_it_expires(tmp_path: Path) -> None:
    keys = _keys(tmp_path / "a")
    verified = VerifiedTokens()
    token = TokenIssuer(keys, "wildlens").user_token("ana", {"p1": "viewer"}, ttl_s=1)
    first = verified.verify(token, keys, "wildlens")
    assert first.subject == "ana"
    assert verified.verify(token, keys, "wildlens") is first
    while time.time() < (first.expires_at or 0):
        time.sleep(0.1)
    with pytest.raises(Unauthorized, match="expired"):
        verified.verify(token, keys, "wildlens")


def test_a_verified_token_is_refused_by_other_keys_or_another_issuer(tmp_path: Path) -> None:
    keys, other_keys = _keys(tmp_path / "a"), _keys(tmp_path / "b")
    verified = VerifiedTokens()
    token, _ = TokenIssuer(keys, "wildlens").device_token(
        "p1", ["d1"], subject="gateway:d1", ttl_s=60
    )
    assert verified.verify(token, keys, "wildlens").device_ids == ("d1",)
    with pytest.raises(Unauthorized, match="invalid token"):
        verified.verify(token, other_keys, "wildlens")
    with pytest.raises(Unauthorized, match="invalid token"):
        verified.verify(token, keys, "elsewhere")


def test_only_the_most_recent_tokens_are_kept(tmp_path: Path) -> None:
    keys = _keys(tmp_path / "a")
    verified = VerifiedTokens(size=2)
    issuer = TokenIssuer(keys, "wildlens")
    tokens = [issuer.user_token(f"u{i}", {}, ttl_s=60) for i in range(3)]
    principals = [verified.verify(t, keys, "wildlens") for t in tokens]
    # The first was dropped for the third: verified again, it is a new (equal) principal.
    again = verified.verify(tokens[0], keys, "wildlens")
    assert again == principals[0]
    assert again is not principals[0]
    assert verified.verify(tokens[2], keys, "wildlens") is principals[2]
