"""Object keys: the one place that decides which keys exist.

Both backends accept exactly the same keys, so that code tested against the local store
cannot write a key that S3 would store but the local store would refuse (or the reverse).
A key maps directly onto a path below the local store's root, hence the strictness.
"""

from __future__ import annotations

import re

from wildlens.common.errors import FieldError, Invalid

__all__ = ["MAX_KEY_LENGTH", "validate_key", "validate_prefix"]

# S3's limit; also keeps local paths well inside PATH_MAX.
MAX_KEY_LENGTH = 1024
# Most filesystems limit one path component to 255 bytes.
_MAX_SEGMENT_LENGTH = 255
_ALLOWED = re.compile(r"[A-Za-z0-9._/-]*")


def _refuse(key: str, why: str) -> Invalid:
    return Invalid(
        f"invalid object key {key!r}: {why}",
        fields=[FieldError(location=["path", "key"], message=why, type="value_error")],
    )


def _check_characters(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        raise _refuse(key[:64] + "...", f"longer than {MAX_KEY_LENGTH} characters")
    if key.startswith("/"):
        raise _refuse(key, "must be relative")
    if not _ALLOWED.fullmatch(key):
        raise _refuse(key, "only letters, digits and . _ / - are allowed")


def _check_segments(key: str, segments: list[str]) -> None:
    for segment in segments:
        if segment == "":
            raise _refuse(key, "empty path segment")
        # Refusing every dot-leading segment also rules out "." and "..", and leaves names
        # such as ".tmp" at the local store's root free for its own bookkeeping.
        if segment.startswith("."):
            raise _refuse(key, "a path segment may not start with '.'")
        if len(segment) > _MAX_SEGMENT_LENGTH:
            raise _refuse(key, f"path segment longer than {_MAX_SEGMENT_LENGTH} characters")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it names an object, else raise.

    Args:
        key: a relative, slash-separated key such as ``media/ab/ab12....jpg``.

    Raises:
        Invalid: the key is empty, absolute, contains ``..``, a backslash, a NUL or any
            character outside ``[A-Za-z0-9._/-]``, or has an empty or dot-leading segment.
    """
    if not key:
        raise _refuse(key, "must not be empty")
    _check_characters(key)
    _check_segments(key, key.split("/"))
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` unchanged if objects can be listed by it, else raise.

    A prefix is any beginning of a valid key: it may be empty, end with ``/`` or stop in the
    middle of a segment (``media/a`` matches ``media/ab/...``).

    Raises:
        Invalid: as for :func:`validate_key`.
    """
    if not prefix:
        return prefix
    _check_characters(prefix)
    segments = prefix.split("/")
    if segments[-1] == "":
        segments.pop()
    _check_segments(prefix, segments)
    return prefix
