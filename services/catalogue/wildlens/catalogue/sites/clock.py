"""Camera clocks: a fixed UTC offset, written the way Camtrap DP and EXIF write it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

OFFSET_PATTERN = r"^[+-](0\d|1[0-4]):[0-5]\d$"
_OFFSET = re.compile(OFFSET_PATTERN)
EXIF_FORMAT = "%Y:%m:%d %H:%M:%S"


def parse_offset(text: str) -> timezone:
    """``"+01:00"`` → a fixed-offset timezone; ValueError for anything else."""
    if not _OFFSET.match(text):
        raise ValueError(f"utc_offset must look like +01:00 or -05:30, not {text!r}")
    sign = 1 if text[0] == "+" else -1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_exif_local(text: str) -> datetime | None:
    """An EXIF ``DateTimeOriginal`` as a naive local time; None when unreadable."""
    text = text.strip().rstrip("\x00")
    for fmt in (EXIF_FORMAT, "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M:%S.%f"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def exif_to_utc(local: datetime, utc_offset: str) -> datetime:
    """A camera's local reading interpreted with its clock's offset, in UTC."""
    return local.replace(tzinfo=parse_offset(utc_offset)).astimezone(UTC)
