"""Client file names are kept for people to read, never used as paths."""

import re
import unicodedata

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def sanitise_filename(name: str | None) -> str:
    if not name:
        return ""
    name = unicodedata.normalize("NFC", name)
    # Only the last component of whatever path the client sent, without control characters.
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("", name).strip().lstrip(".")
    return name[:255]
