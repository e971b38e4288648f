"""Where the platform keeps what it derives from an original, under the original's hash.

Ingest makes the derivatives; the catalogue decides who gets which. Both name them here, so
that the keys one writes are the keys the other hands out.
"""

from __future__ import annotations

__all__ = ["display_key", "thumbnail_key"]


def thumbnail_key(sha256: str) -> str:
    """The thumbnail of the original with content hash ``sha256``."""
    return f"derived/{sha256}/thumb.jpg"


def display_key(sha256: str) -> str:
    """The display copy (upright, resized, no EXIF, no GPS) of the original ``sha256``."""
    return f"derived/{sha256}/display.jpg"
