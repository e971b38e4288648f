"""Client file names are kept for people to read, never used as paths."""

import re
import unicodedata

# Longest kept name, in UTF-8 bytes: what common file systems allow for one component.
MAX_NAME_BYTES = 255

_SEPARATORS = re.compile(r"[/\\]")


def sanitise_filename(name: str | None) -> str:
    """A safe base name for display: no directories, drive letters, control or invisible
    characters, leading dots, or more than :data:`MAX_NAME_BYTES` bytes."""
    if not name:
        return ""
    name = unicodedata.normalize("NFC", name)
    # Only the last component of whatever path the client sent (``../../x``, ``C:\\x\\y``).
    name = _SEPARATORS.split(name)[-1]
    # Control characters (NUL included) and format characters such as the right-to-left
    # override, which can make ``photo\u202egpj.exe`` read as ``photoexe.jpg``.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf"))
    if len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha():
        name = name[2:]  # a drive-relative name such as ``C:photo.jpg``
    name = name.strip().lstrip(".").rstrip(". ")
    return _truncate(name)


def _truncate(name: str) -> str:
    """Cut to :data:`MAX_NAME_BYTES` bytes, keeping a short extension so the name still says
    what it is."""
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode("utf-8")) > 16:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    # Cut on a character boundary.
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return cut + suffix
