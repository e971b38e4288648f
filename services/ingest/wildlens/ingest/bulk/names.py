"""Client file names in a manifest: kept for people to read, never used as paths.

Staging keys are numbered (``staging/<upload id>/<n>``), so a name cannot reach storage; it is
still cleaned so that whatever shows it (a table, a CSV export, a shell) gets no surprises.
"""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEPARATORS = re.compile(r"[/\\]+")
MAX_NAME_LENGTH = 1024


def sanitise_relative_name(name: str) -> str:
    """A relative, slash-separated path without ``..``, drive letters or control characters.

    SD cards repeat file names across folders (``100RECNX/IMG_0001.JPG``,
    ``101RECNX/IMG_0001.JPG``), so the folders are kept, only their tricks removed.
    """
    name = _CONTROL.sub("", unicodedata.normalize("NFC", name))
    parts = []
    for part in _SEPARATORS.split(name):
        part = part.strip()
        # "C:" and the like make a path absolute on Windows; leading dots hide files or climb.
        part = part.lstrip(".").replace(":", "_")
        if part:
            parts.append(part)
    return "/".join(parts)[-MAX_NAME_LENGTH:]


def base_name(name: str) -> str:
    """The last component, what single uploads record as the file name."""
    return name.rsplit("/", 1)[-1][:255]
