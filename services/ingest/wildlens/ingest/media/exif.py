"""Raw capture metadata from EXIF, as the camera wrote it.

Nothing here interprets: the date/time stays a string in the camera's clock (the catalogue
applies the deployment's clock offset and drift), and a field the camera did not write, or
wrote unreadably, is ``None``. Broken EXIF never fails an upload: the image is still evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

__all__ = ["RawMetadata", "ReconyxMakerNote", "parse_reconyx_maker_note", "read_metadata"]

# IFD0
_MAKE = 0x010F
_MODEL = 0x0110
_DATETIME = 0x0132
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_CAMERA_SERIAL_NUMBER = 0xC62F  # DNG's tag, used by some cameras in IFD0
# Exif IFD
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_OFFSET_TIME = 0x9010
_OFFSET_TIME_ORIGINAL = 0x9011
_OFFSET_TIME_DIGITIZED = 0x9012
_MAKER_NOTE = 0x927C
_BODY_SERIAL_NUMBER = 0xA431
# GPS IFD
_GPS_LATITUDE_REF = 1
_GPS_LATITUDE = 2
_GPS_LONGITUDE_REF = 3
_GPS_LONGITUDE = 4
_GPS_ALTITUDE_REF = 5
_GPS_ALTITUDE = 6


@dataclass(frozen=True, slots=True)
class RawMetadata:
    """Capture metadata as written by the camera; ``None`` where absent or unreadable.

    ``datetime_original`` is EXIF's ``YYYY:MM:DD HH:MM:SS`` in the camera's own clock and
    ``offset_time_original`` its ``+HH:MM`` offset if the camera wrote one (trail cameras
    rarely do). Coordinates are decimal degrees, negative south and west; altitude is metres,
    negative below sea level.
    """

    datetime_original: str | None = None
    offset_time_original: str | None = None
    make: str | None = None
    model: str | None = None
    serial: str | None = None
    gps_latitude: float | None = None
    gps_longitude: float | None = None
    gps_altitude: float | None = None


@dataclass(frozen=True, slots=True)
class ReconyxMakerNote:
    """What a Reconyx maker note says; fields the layout does not carry are ``None``."""

    model_family: str
    serial: str | None = None
    user_label: str | None = None
    datetime_original: str | None = None
    moon_phase: str | None = None
    ambient_temperature_c: int | None = None


def read_metadata(image: Image.Image) -> RawMetadata:
    """Read the raw capture metadata of an opened image. Never raises."""
    try:
        exif = image.getexif()
    except Exception:
        return RawMetadata()
    ifd0 = _safe_ifd0(exif)
    exif_ifd = _safe_sub_ifd(exif, _EXIF_IFD)
    gps = _safe_sub_ifd(exif, _GPS_IFD)

    make = _text(ifd0.get(_MAKE))
    datetime_original, offset = _capture_time(ifd0, exif_ifd)
    serial = _text(exif_ifd.get(_BODY_SERIAL_NUMBER)) or _text(ifd0.get(_CAMERA_SERIAL_NUMBER))
    if serial is None:
        serial = _maker_note_serial(exif_ifd.get(_MAKER_NOTE), make)
    latitude = _coordinate(gps.get(_GPS_LATITUDE), gps.get(_GPS_LATITUDE_REF), "S", 90.0)
    longitude = _coordinate(gps.get(_GPS_LONGITUDE), gps.get(_GPS_LONGITUDE_REF), "W", 180.0)
    if latitude == 0.0 and longitude == 0.0:
        # Cameras without a fix write zeros; no camera trap stands at 0°N 0°E.
        latitude = longitude = None
    if latitude is None or longitude is None:
        latitude = longitude = None
    return RawMetadata(
        datetime_original=datetime_original,
        offset_time_original=offset,
        make=make,
        model=_text(ifd0.get(_MODEL)),
        serial=serial,
        gps_latitude=latitude,
        gps_longitude=longitude,
        gps_altitude=_altitude(gps.get(_GPS_ALTITUDE), gps.get(_GPS_ALTITUDE_REF)),
    )


def _safe_ifd0(exif: Image.Exif) -> Mapping[int, Any]:
    try:
        return dict(exif.items())
    except Exception:
        return {}


def _safe_sub_ifd(exif: Image.Exif, tag: int) -> Mapping[int, Any]:
    try:
        return dict(exif.get_ifd(tag).items())
    except Exception:
        return {}


def _capture_time(
    ifd0: Mapping[int, Any], exif_ifd: Mapping[int, Any]
) -> tuple[str | None, str | None]:
    """The capture time and the offset that belongs to that same tag.

    DateTimeOriginal is the shutter time. DateTimeDigitized is the same on a camera trap.
    IFD0's DateTime comes last: photo editors rewrite it on every save.
    """
    for value, offset in (
        (exif_ifd.get(_DATETIME_ORIGINAL), exif_ifd.get(_OFFSET_TIME_ORIGINAL)),
        (exif_ifd.get(_DATETIME_DIGITIZED), exif_ifd.get(_OFFSET_TIME_DIGITIZED)),
        (ifd0.get(_DATETIME), exif_ifd.get(_OFFSET_TIME)),
    ):
        text = _text(value)
        # Cameras with an unset clock write blanks or zeros ("0000:00:00 00:00:00").
        if text is not None and text.strip("0: ") != "":
            return text, _text(offset)
    return None, None


def _text(value: object) -> str | None:
    """A string tag as written, up to its first NUL and without surrounding blanks."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    text = value.split("\x00", 1)[0].strip()
    if not text or not text.isprintable():
        return None
    return text


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _degrees(value: object) -> float | None:
    """Degrees, minutes, seconds (each a rational) to decimal degrees."""
    parts = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    total = 0.0
    for part, scale in zip(parts, (1.0, 60.0, 3600.0), strict=False):
        number = _number(part)
        if number is None or number < 0:
            return None
        total += number / scale
    return total


def _coordinate(value: object, ref: object, negative: str, limit: float) -> float | None:
    degrees = _degrees(value)
    if degrees is None or degrees > limit:
        return None
    if (_text(ref) or "").upper().startswith(negative):
        degrees = -degrees
    return degrees


def _altitude(value: object, ref: object) -> float | None:
    metres = _number(value)
    if metres is None:
        return None
    if isinstance(ref, bytes):
        below = ref[:1] == b"\x01"
    else:
        below = ref == 1
    return -metres if below else metres


def _maker_note_serial(maker_note: object, make: str | None) -> str | None:
    if not isinstance(maker_note, bytes):
        return None
    if make is not None and not make.upper().startswith("RECONYX"):
        return None
    note = parse_reconyx_maker_note(maker_note)
    return note.serial if note is not None else None


# Reconyx maker notes are fixed binary layouts, not IFDs. Three are known (ExifTool's Reconyx
# module documents them): HyperFire (starts 0x01 0xF1), UltraFire ("RECONYXUF\0") and
# HyperFire 2 ("RECONYXH2\0").
_MOON_PHASES = (
    "new",
    "new crescent",
    "first quarter",
    "waxing gibbous",
    "full",
    "waning gibbous",
    "last quarter",
    "old crescent",
)


def parse_reconyx_maker_note(data: bytes) -> ReconyxMakerNote | None:
    """Decode a Reconyx maker note; ``None`` if it is not one. Never raises."""
    try:
        if data.startswith(b"RECONYXH2\x00"):
            return _hyperfire_2(data)
        if data.startswith(b"RECONYXUF\x00"):
            return ReconyxMakerNote(
                model_family="UltraFire",
                serial=_ascii(data, 0x4B, 15),
                user_label=_ascii(data, 0x5A, 21),
            )
        if data.startswith(b"\x01\xf1"):
            return ReconyxMakerNote(
                model_family="HyperFire",
                serial=_utf16(data, 0x2A, 30),
                user_label=_ascii(data, 0x56, 22),
            )
    except Exception:
        return None
    return None


def _hyperfire_2(data: bytes) -> ReconyxMakerNote:
    """HyperFire 2 (HF2X, HF2 PRO, HYPERFIRE 2 COVERT): little-endian, fixed offsets.

    The date/time is six 16-bit words in the order second, minute, hour, month, day, year:
    checked against the EXIF DateTimeOriginal of real HF2 images.
    """
    moon = _u16(data, 0x4C)
    temperature = _u16(data, 0x50)
    return ReconyxMakerNote(
        model_family="HyperFire 2",
        serial=_utf16(data, 0x7E, 30),
        user_label=_ascii(data, 0x68, 22),
        datetime_original=_hf2_datetime(data),
        moon_phase=_MOON_PHASES[moon] if moon is not None and moon < len(_MOON_PHASES) else None,
        ambient_temperature_c=(
            temperature - 0x10000
            if temperature is not None and temperature >= 0x8000
            else temperature
        ),
    )


def _hf2_datetime(data: bytes) -> str | None:
    words = [_u16(data, 0x3E + 2 * i) for i in range(6)]
    if any(word is None for word in words):
        return None
    second, minute, hour, month, day, year = (int(word or 0) for word in words)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    return f"{year:04d}:{month:02d}:{day:02d} {hour:02d}:{minute:02d}:{second:02d}"


def _u16(data: bytes, offset: int) -> int | None:
    if offset + 2 > len(data):
        return None
    return int.from_bytes(data[offset : offset + 2], "little")


def _ascii(data: bytes, offset: int, length: int) -> str | None:
    raw = data[offset : offset + length]
    if len(raw) < length:
        return None
    return _serial_like(raw.split(b"\x00", 1)[0].decode("ascii", errors="replace"))


def _utf16(data: bytes, offset: int, length: int) -> str | None:
    raw = data[offset : offset + length]
    if len(raw) < length:
        return None
    return _serial_like(raw.decode("utf-16-le", errors="replace").split("\x00", 1)[0])


def _serial_like(text: str) -> str | None:
    """Keep a string only if it reads like a label: printable ASCII, nothing else."""
    text = text.strip()
    if not text or not text.isascii() or not text.isprintable():
        return None
    return text
