"""Decide what an upload really is from its first bytes, never from its name.

Gateways and SD-card stations name files whatever they like (``IMG_0001.JPG`` may be an HTML
error page a proxy returned), so the type comes from the magic numbers alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wildlens.common.errors import Invalid, UnsupportedMedia

__all__ = ["ACCEPTED", "SNIFF_BYTES", "Sniffed", "sniff", "sniff_file"]

# Enough for the longest signature we look at (an ISO-BMFF ``ftyp`` box with its brand list)
# and for markup preceded by a byte-order mark and blank lines.
SNIFF_BYTES = 4096

ACCEPTED = "we accept JPEG, PNG, TIFF, WebP or HEIC images and MP4, MOV or AVI video"


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the bytes are. ``extension`` is the one used in the object key."""

    kind: Literal["image", "video"]
    content_type: str
    extension: str


JPEG = Sniffed("image", "image/jpeg", "jpg")
PNG = Sniffed("image", "image/png", "png")
TIFF = Sniffed("image", "image/tiff", "tif")
WEBP = Sniffed("image", "image/webp", "webp")
HEIC = Sniffed("image", "image/heic", "heic")
MP4 = Sniffed("video", "video/mp4", "mp4")
MOV = Sniffed("video", "video/quicktime", "mov")
AVI = Sniffed("video", "video/x-msvideo", "avi")

_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_MP4_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6",
        b"mp41", b"mp42", b"mp71", b"avc1", b"M4V ", b"M4VP", b"MSNV", b"dash", b"mmp4",
        b"XAVC", b"f4v ",
    }
)  # fmt: skip
# Old QuickTime files (some trail cameras still write them) start with an atom, not ``ftyp``.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide"})

# Markup: what a misconfigured proxy, captive portal or attacker sends instead of a photo.
_MARKUP = re.compile(rb"<\s*(!doctype\s+html|html|head|body|script|iframe|!--)", re.IGNORECASE)
_SVG = re.compile(rb"<\s*svg[\s>]", re.IGNORECASE)
_XML = re.compile(rb"<\?xml", re.IGNORECASE)

# Recognised, but not something we take: named so the integrator knows what they sent.
_NOT_MEDIA: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable (PE)"),
    (b"#!", "a script"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
)
_OTHER_MEDIA: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
    (b"\x1a\x45\xdf\xa3", "a Matroska/WebM video"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "a Windows Media (ASF) file"),
    (b"II+\x00", "a BigTIFF image"),
    (b"MM\x00+", "a BigTIFF image"),
    (b"BM", "a BMP image"),
)


def sniff_file(path: Path) -> Sniffed:
    """Sniff the file at ``path`` from its first :data:`SNIFF_BYTES` bytes."""
    with path.open("rb") as f:
        return sniff(f.read(SNIFF_BYTES))


def sniff(head: bytes) -> Sniffed:
    """Decide the media type from the first bytes of a file.

    Raises:
        Invalid: ``head`` is empty.
        UnsupportedMedia: the bytes are anything but an accepted image or video; the message
            names what they are when we can tell (HTML, PDF, ZIP, an executable...).
    """
    if not head:
        raise Invalid("file is empty")
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"RIFF") and len(head) >= 12:
        return _riff(head[8:12])
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if head[4:8] in _QUICKTIME_ATOMS:
        return MOV
    raise _refuse(head)


def _riff(form: bytes) -> Sniffed:
    if form == b"WEBP":
        return WEBP
    if form == b"AVI ":
        return AVI
    if form == b"WAVE":
        raise UnsupportedMedia(f"content is WAV audio, which is not accepted ({ACCEPTED})")
    raise UnsupportedMedia(
        f"content is a RIFF file of type {_printable(form)}, not an image or video ({ACCEPTED})"
    )


def _iso_bmff(head: bytes) -> Sniffed:
    """An ISO base media file (MP4, MOV, HEIF...): the ``ftyp`` box's brands say which."""
    major = head[8:12]
    box_size = int.from_bytes(head[0:4], "big")
    # Compatible brands follow the major brand and minor version, four bytes each.
    end = min(box_size if box_size >= 16 else 16, len(head))
    brands = {major} | {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major == b"qt  ":
        return MOV
    # The major brand wins: an AVIF file lists ``mif1`` too, a HEIC file may list ``iso8``.
    if major in _AVIF_BRANDS:
        raise UnsupportedMedia(f"content is an AVIF image, which is not accepted ({ACCEPTED})")
    if major in _HEIF_BRANDS:
        return HEIC
    if major in _MP4_BRANDS:
        return MP4
    if brands & _AVIF_BRANDS:
        raise UnsupportedMedia(f"content is an AVIF image, which is not accepted ({ACCEPTED})")
    if brands & _HEIF_BRANDS:
        return HEIC
    if brands & _MP4_BRANDS:
        return MP4
    if b"qt  " in brands:
        return MOV
    raise UnsupportedMedia(
        f"content is an ISO media file of brand {_printable(major)}, "
        f"not a supported image or video ({ACCEPTED})"
    )


def _refuse(head: bytes) -> UnsupportedMedia:
    """Name what an unaccepted file is, in words a gateway integrator understands."""
    for prefix, name in _OTHER_MEDIA:
        if head.startswith(prefix):
            return UnsupportedMedia(f"content is {name}, which is not accepted ({ACCEPTED})")
    described = _describe(head)
    if described is None:
        return UnsupportedMedia(f"content is not a recognised image or video format ({ACCEPTED})")
    return UnsupportedMedia(f"content is {described}, not an image or video ({ACCEPTED})")


def _describe(head: bytes) -> str | None:
    for prefix, name in _NOT_MEDIA:
        if head.startswith(prefix):
            return name
    text = head.lstrip(b"\xef\xbb\xbf").lstrip(b" \t\r\n\x0c")
    if text.startswith(b"<"):
        start = text[:1024]
        if _SVG.search(start):
            return "SVG"
        if _MARKUP.search(start):
            return "HTML"
        if _XML.match(start):
            return "XML"
        return "markup (HTML or XML)"
    if _looks_like_text(text):
        if text.startswith((b"{", b"[")):
            return "JSON or other text"
        return "text"
    return None


def _looks_like_text(data: bytes) -> bool:
    if not data:
        return False
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut off by the sniff window is still text.
        if exc.start < len(data) - 3:
            return False
        decoded = data[: exc.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\t\r\n\x0c" for ch in decoded)


def _printable(raw: bytes) -> str:
    return repr(raw.decode("latin-1"))
