"""Camera clocks: a fixed UTC offset, written the way Camtrap DP and EXIF write it, and a
linear drift.

The drift model. A camera's clock is set when it is deployed (the deployment's ``start``, a
true UTC time) and then runs slightly fast or slow at a constant rate. When someone checks it
against a reference clock at ``checked_at`` (a true UTC time; the deployment's end when not
given), it reads ``drift_seconds`` ahead of the truth (negative: behind). Between those two
points the error grows linearly, so a reading is mapped back onto true time by the straight
line through (start → start) and (checked_at + drift → checked_at). Readings after the check
follow the same line, which is what the camera's constant rate implies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


def drift_problem(set_at: datetime, checked_at: datetime | None, drift_seconds: float) -> str:
    """Why a drift correction cannot be applied, or ``""`` when it can."""
    if not drift_seconds:
        return ""
    if checked_at is None:
        return "a clock drift needs clock_checked_at or the deployment's end"
    span = (checked_at - set_at).total_seconds()
    if span <= 0:
        return "clock_checked_at must be after the deployment's start"
    if span + drift_seconds <= 0:
        return "clock_drift_seconds would put the camera's check reading before its start"
    return ""


@dataclass(frozen=True)
class CameraClock:
    """One deployment's camera clock: its offset, and its drift (see the module docstring)."""

    utc_offset: str
    set_at: datetime | None = None
    checked_at: datetime | None = None
    drift_seconds: float = 0.0

    def to_utc(self, local: datetime) -> datetime:
        """A naive local reading of this camera → the true UTC time it was taken."""
        apparent = exif_to_utc(local, self.utc_offset)
        if self.set_at is None or drift_problem(self.set_at, self.checked_at, self.drift_seconds):
            return apparent
        if not self.drift_seconds or self.checked_at is None:
            return apparent
        span = (self.checked_at - self.set_at).total_seconds()
        scale = span / (span + self.drift_seconds)
        return self.set_at + (apparent - self.set_at) * scale
