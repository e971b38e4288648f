"""Check that an image is what it claims, is not a bomb and decodes, and read its metadata.

The order matters. The dimensions come from our own reading of the header, so a
decompression bomb is refused before any decoder allocates pixels. Then Pillow decodes the
whole image once, which catches truncated and corrupt data. Last, the bytes after the end of
the image are checked, so a file that is also HTML, a script or a ZIP archive (a polyglot)
is refused rather than stored and later served.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO, Literal

from PIL import Image, ImageFile

from wildlens.common.errors import Invalid, UnsupportedMedia

from .exif import RawMetadata, read_metadata
from .sniff import Sniffed

__all__ = ["ImageInfo", "enable_heif", "inspect_image"]

# Sniffed content type -> (Pillow's format name, the name we use in messages).
_FORMATS: dict[str, tuple[str, str]] = {
    "image/jpeg": ("JPEG", "JPEG"),
    "image/png": ("PNG", "PNG"),
    "image/tiff": ("TIFF", "TIFF"),
    "image/webp": ("WEBP", "WebP"),
    "image/heic": ("HEIF", "HEIC"),
}

# Payloads that turn an image into a polyglot. Anything else after the end of the image is
# allowed: zero padding some cameras write, a second (preview) JPEG in MPF files, a maker's own
# trailer. Each pattern is long enough not to turn up by chance in such data.
_PAYLOADS: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (
        re.compile(
            rb"<\s*(?:!doctype\s+html|html|head|body|script|iframe|svg|object|embed|meta)[\s/>]"
            rb"|<\?php|javascript:",
            re.IGNORECASE,
        ),
        "HTML or script",
    ),
    (re.compile(rb"PK\x03\x04|PK\x01\x02|PK\x05\x06"), "a ZIP archive"),
    (re.compile(rb"\AMZ|This program cannot be run in DOS mode|PE\x00\x00[\x4c\x64]"),
     "a Windows executable"),
    (re.compile(rb"\x7fELF[\x01\x02][\x01\x02]\x01"), "an ELF executable"),
    # Only at the start of a line: three bytes alone turn up by chance in a preview JPEG.
    (re.compile(rb"(?:\A|[\r\n])#![ \t]*/\w"), "a script"),
    (re.compile(rb"%PDF-"), "a PDF document"),
    (re.compile(rb"Rar!\x1a\x07|7z\xbc\xaf\x27\x1c"), "an archive"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """A decoded image's size in pixels and its raw capture metadata."""

    width: int
    height: int
    metadata: RawMetadata


def inspect_image(path: Path, sniffed: Sniffed, *, max_pixels: int) -> ImageInfo:
    """Validate the image at ``path`` (already sniffed) and read its raw metadata.

    Blocking (it decodes the image): run it in a worker thread.

    Args:
        path: the received file.
        sniffed: what :func:`~wildlens.ingest.media.sniff.sniff_file` said it is.
        max_pixels: the largest accepted width x height.

    Raises:
        Invalid: a decompression bomb, truncated or corrupt data, or a polyglot.
        UnsupportedMedia: the format is recognised but cannot be decoded here (HEIC without
            a HEIF decoder).
    """
    if sniffed.kind != "image" or sniffed.content_type not in _FORMATS:
        raise ValueError(f"inspect_image takes images, not {sniffed.content_type}")
    pillow_format, name = _FORMATS[sniffed.content_type]
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched Pillow to accept truncated images for the whole process; that
        # would let broken uploads through silently, so fail loudly instead.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be False for ingest")
    if pillow_format == "HEIF":
        enable_heif()
    Image.init()
    if pillow_format not in Image.OPEN:
        raise UnsupportedMedia(
            f"content is a {name} image, but no {name} decoder is installed on this server; "
            "send JPEG instead"
        )
    if path.stat().st_size == 0:
        raise Invalid("file is empty")

    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        size = _header_size(data, sniffed.content_type, name)
        if size is not None:
            _check_pixels(*size, max_pixels=max_pixels)
        width, height, metadata = _decode(f, pillow_format, name, max_pixels=max_pixels)
        end = _end_of_image(data, sniffed.content_type, name)
        if end is not None:
            _check_trailer(data, end)
    return ImageInfo(width=width, height=height, metadata=metadata)


@cache
def enable_heif() -> bool:
    """Teach Pillow to open HEIC/HEIF (what phones and some cameras write); ``False`` when
    pillow-heif is not installed, and HEIC is then refused with a clear message.

    Registered on first need rather than at import, so that only code that inspects
    images pays for libheif, and Pillow's format list stays untouched elsewhere.
    """
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    # Thumbnails inside the file are not needed: the derivative step makes its own.
    register_heif_opener(thumbnails=False)
    return True


def _check_pixels(width: int, height: int, *, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise Invalid(f"image has no pixels ({width}x{height})")
    pixels = width * height
    if pixels > max_pixels:
        raise Invalid(f"image has {pixels} pixels, more than the limit of {max_pixels}")
    # Pillow refuses (or warns about) images over its own process-wide limit. Compare here,
    # with the same arithmetic, rather than switch its limit off for everyone.
    pillow_limit = Image.MAX_IMAGE_PIXELS
    if pillow_limit is not None and pixels > pillow_limit:
        raise Invalid(f"image has {pixels} pixels, more than the limit of {pillow_limit}")


def _decode(
    file: BinaryIO, pillow_format: str, name: str, *, max_pixels: int
) -> tuple[int, int, RawMetadata]:
    corrupt = f"{name} data is truncated or corrupt"
    try:
        # formats= keeps Pillow from deciding the bytes are some other format it knows.
        with Image.open(file, formats=[pillow_format]) as image:
            width, height = image.size
            # For formats we cannot read the header of ourselves (HEIC), check here, still
            # before decoding.
            _check_pixels(width, height, max_pixels=max_pixels)
            if pillow_format == "JPEG":
                # Every entropy-coded block is still decoded, so truncated or corrupt data
                # fails exactly as in a full decode; only the inverse DCT runs at 1/8 scale,
                # which is most of a full decode's cost and tells us nothing about validity.
                # A colour image is decoded to grey: libjpeg still reads its colour blocks,
                # and skips only their inverse DCT and the colour conversion.
                mode = "L" if image.mode == "RGB" else image.mode
                image.draft(mode, (max(1, width // 8), max(1, height // 8)))
            image.load()
            metadata = read_metadata(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Invalid(f"image is too large to decode safely: {exc}") from exc
    except Invalid:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        # Pillow reports bad data with many exception types (OSError, SyntaxError,
        # ValueError, struct.error, EOFError...): all mean the same thing to the sender.
        raise Invalid(f"{corrupt}: {str(exc) or type(exc).__name__}") from exc
    return width, height, metadata


# --- Header dimensions ---------------------------------------------------------------------

# SOFn markers: baseline, extended, progressive, lossless; Huffman and arithmetic coded.
_JPEG_SOF = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_JPEG_RST = frozenset(range(0xD0, 0xD8))
# Markers that may start a segment: frame, tables, scan, restart interval, APPn, COM, EOI.
_JPEG_SEGMENTS = (
    _JPEG_SOF
    | {0xC4, 0xCC, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xFE}
    | set(range(0xE0, 0xF0))
)


def _header_size(data: mmap.mmap, content_type: str, name: str) -> tuple[int, int] | None:
    corrupt = f"{name} data is truncated or corrupt"
    if content_type == "image/jpeg":
        return _jpeg_size(data, corrupt)
    if content_type == "image/png":
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise Invalid(f"{corrupt}: the PNG header (IHDR) is missing")
        return _be(data, 16, 4), _be(data, 20, 4)
    if content_type == "image/webp":
        return _webp_size(data, corrupt)
    if content_type == "image/tiff":
        return _tiff_size(data, corrupt)
    return None


def _jpeg_size(data: mmap.mmap, corrupt: str) -> tuple[int, int]:
    """Walk the marker segments up to the first scan; the SOF segment has the size."""
    size: tuple[int, int] | None = None
    pos = 2
    while True:
        pos, marker = _jpeg_marker(data, pos, corrupt)
        if marker in _JPEG_RST or marker == 0x01:
            continue
        if marker == 0xD9:
            raise Invalid(f"{corrupt}: the image ends before any image data")
        length = _jpeg_segment_length(data, pos, corrupt)
        if marker in _JPEG_SOF and size is None:
            if length < 8:
                raise Invalid(f"{corrupt}: the frame header is too short")
            size = (_be(data, pos + 5, 2), _be(data, pos + 3, 2))
        if marker == 0xDA:
            if size is None:
                raise Invalid(f"{corrupt}: image data comes before the frame header")
            return size
        pos += length


def _jpeg_marker(data: mmap.mmap, pos: int, corrupt: str) -> tuple[int, int]:
    """The marker at ``pos`` (after any fill bytes) and the position after it."""
    if pos >= len(data):
        raise Invalid(f"{corrupt}: the file ends before the end-of-image marker")
    if data[pos] != 0xFF:
        raise Invalid(f"{corrupt}: expected a marker at byte {pos}")
    while pos < len(data) and data[pos] == 0xFF:
        pos += 1
    if pos >= len(data):
        raise Invalid(f"{corrupt}: the file ends before the end-of-image marker")
    return pos + 1, data[pos]


def _jpeg_segment_length(data: mmap.mmap, pos: int, corrupt: str) -> int:
    if pos + 2 > len(data):
        raise Invalid(f"{corrupt}: the file ends inside a marker segment")
    length = _be(data, pos, 2)
    if length < 2 or pos + length > len(data):
        raise Invalid(f"{corrupt}: a marker segment at byte {pos - 2} runs past the end")
    return length


def _webp_size(data: mmap.mmap, corrupt: str) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + _le(data, 24, 3), 1 + _le(data, 27, 3)
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = _le(data, 21, 4)
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return _le(data, 26, 2) & 0x3FFF, _le(data, 28, 2) & 0x3FFF
    raise Invalid(f"{corrupt}: the WebP header is missing or unreadable")


def _tiff_size(data: mmap.mmap, corrupt: str) -> tuple[int, int]:
    """ImageWidth and ImageLength from the first IFD (the first page is the one decoded)."""
    order: Literal["little", "big"] = "little" if data[0:2] == b"II" else "big"

    def read(offset: int, length: int) -> int:
        if offset + length > len(data):
            raise Invalid(f"{corrupt}: the TIFF directory runs past the end of the file")
        return int.from_bytes(data[offset : offset + length], order)

    ifd = read(4, 4)
    count = read(ifd, 2)
    width = height = None
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, kind = read(entry, 2), read(entry + 2, 2)
        if tag in (256, 257):
            # SHORT (3) sits in the first two bytes of the value field, LONG (4) fills it.
            value = read(entry + 8, 2) if kind == 3 else read(entry + 8, 4)
            if tag == 256:
                width = value
            else:
                height = value
    if width is None or height is None:
        raise Invalid(f"{corrupt}: the TIFF image has no width or height")
    return width, height


# --- End of image and trailing data --------------------------------------------------------


def _end_of_image(data: mmap.mmap, content_type: str, name: str) -> int | None:
    """The offset just after the image's own data; ``None`` where the format has no end."""
    corrupt = f"{name} data is truncated or corrupt"
    if content_type == "image/jpeg":
        return _jpeg_end(data, corrupt)
    if content_type == "image/png":
        return _png_end(data, corrupt)
    if content_type == "image/webp":
        riff_size = _le(data, 4, 4)
        return 8 + riff_size + (riff_size & 1)
    return None


def _jpeg_end(data: mmap.mmap, corrupt: str) -> int:
    """Walk segments and entropy-coded data to the EOI marker; return the offset after it.

    Searching for the bytes FF D9 would not do: an EXIF thumbnail contains its own EOI, and a
    payload can contain one too. Inside entropy-coded data FF is always followed by 00 or a
    restart marker, so the first other marker there is real.
    """
    pos = 2
    while True:
        pos, marker = _jpeg_marker(data, pos, corrupt)
        if marker == 0xD9:
            return pos
        if marker in _JPEG_RST or marker == 0x01:
            continue
        if marker not in _JPEG_SEGMENTS:
            raise Invalid(f"{corrupt}: unexpected marker 0xFF{marker:02X} at byte {pos - 2}")
        pos += _jpeg_segment_length(data, pos, corrupt)
        if marker == 0xDA:
            pos = _jpeg_scan_end(data, pos, corrupt)


# Inside entropy-coded data: an FF followed by neither a stuffed 00, a restart marker nor
# another FF (a fill byte) starts the next real marker.
_JPEG_SCAN_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")


def _jpeg_scan_end(data: mmap.mmap, pos: int, corrupt: str) -> int:
    """The offset of the marker that ends the scan starting at ``pos``."""
    # One search in C rather than a Python step per stuffed byte (thousands per photo).
    found = _JPEG_SCAN_MARKER.search(data, pos)
    if found is None:
        raise Invalid(f"{corrupt}: the file ends before the end-of-image marker")
    return found.start()


def _png_end(data: mmap.mmap, corrupt: str) -> int:
    pos = 8
    while True:
        if pos + 12 > len(data):
            raise Invalid(f"{corrupt}: the file ends before the PNG end chunk (IEND)")
        length = _be(data, pos, 4)
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos


def _check_trailer(data: mmap.mmap, end: int) -> None:
    if end >= len(data):
        return
    trailer = memoryview(data)[end:]
    try:
        # Name the payload that starts first: a ZIP archive may contain HTML, not vice versa.
        found = [
            (match.start(), what)
            for pattern, what in _PAYLOADS
            if (match := pattern.search(trailer)) is not None
        ]
        if found:
            _, what = min(found)
            raise Invalid(
                f"data after the end of the image looks like {what} ({len(trailer)} bytes); "
                "a file that is both an image and something else is refused, send the "
                "image alone"
            )
    finally:
        # The mmap cannot close while a view of it exists.
        trailer.release()


def _be(data: mmap.mmap, offset: int, length: int) -> int:
    return int.from_bytes(data[offset : offset + length], "big")


def _le(data: mmap.mmap, offset: int, length: int) -> int:
    return int.from_bytes(data[offset : offset + length], "little")
