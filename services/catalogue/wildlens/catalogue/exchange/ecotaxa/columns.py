"""What EcoTaxa's columns mean, and how their values read.

* ``object_lat``/``object_lon``: decimal degrees. A value written with a degree sign, as UVP6
  files do (``43°41.40``, ``-7°12.5'``, ``43°41.40'N``), is degrees and decimal minutes. With
  ``coordinates="dm"`` a bare number is too, EcoTaxa's older ``DD.MMmm`` (``43.4140`` is
  43° 41.40').
* ``object_date``: ``YYYYMMDD``; ``object_time``: ``HHMMSS`` with its leading zeros often
  dropped (``420`` is 00:04:20); the same for ``object_annotation_date``/``_time``.
* ``object_annotation_category``: a name, or EcoTaxa's ``name<parent`` (``egg<other``).
* ``object_annotation_status``: predicted, validated or dubious.
* Every other ``object_*`` column typed ``[f]`` is a feature.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

__all__ = [
    "ANNOTATION_STATUSES",
    "NON_TAXONOMIC",
    "RESERVED_OBJECT_COLUMNS",
    "format_coordinate",
    "is_morphological",
    "parse_category",
    "parse_coordinate",
    "parse_date",
    "parse_time",
]

ANNOTATION_STATUSES = ("predicted", "validated", "dubious")
# The object columns with a meaning of their own (never features).
RESERVED_OBJECT_COLUMNS = frozenset(
    {
        "object_id",
        "object_lat",
        "object_lon",
        "object_date",
        "object_time",
        "object_depth_min",
        "object_depth_max",
    }
)
# EcoTaxa's categories that are no taxa: what a vignette shows when it is no organism, or
# an organism's part or state, or a group a sorter made for now (``t001``).
NON_TAXONOMIC = frozenset(
    {
        "detritus",
        "artefact",
        "artifact",
        "bubble",
        "badfocus",
        "fiber",
        "fibre",
        "dead",
        "egg",
        "feces",
        "multiple",
        "other",
        "othertocheck",
        "part",
        "living",
        "not-living",
        "seaweed",
        "duplicate",
    }
)
_TEMPORARY = re.compile(r"^t0\d*$", re.IGNORECASE)
_DEGREES = re.compile(
    r"^\s*(?P<sign>[-+]?)\s*(?P<deg>\d+(?:\.\d+)?)\s*°\s*(?:(?P<min>\d+(?:\.\d+)?)\s*['\u2032]?)?"
    r"\s*(?P<hemi>[NSEWnsew]?)\s*$"
)


def parse_coordinate(text: str, *, dm: bool = False) -> float:
    """Decimal degrees from a cell (see the module's docstring); ValueError for others."""
    match = _DEGREES.match(text)
    if match:
        minutes = float(match["min"] or 0)
        if minutes >= 60:
            raise ValueError(f"{text!r}: {minutes} minutes is not below 60")
        value = float(match["deg"]) + minutes / 60
        negative = match["sign"] == "-" or match["hemi"].upper() in ("S", "W")
        return round(-value if negative else value, 7)
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither decimal degrees nor degrees°minutes") from None
    if not dm:
        return number
    degrees = int(abs(number))
    minutes = round((abs(number) - degrees) * 100, 6)
    if minutes >= 60:
        raise ValueError(f"{text!r}: {minutes} minutes is not below 60")
    value = degrees + minutes / 60
    return round(-value if number < 0 else value, 7)


def format_coordinate(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def parse_date(text: str) -> date:
    digits = text.replace("-", "").replace("/", "")
    if not re.fullmatch(r"\d{8}", digits):
        raise ValueError(f"{text!r} is not a date (YYYYMMDD)")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYYMMDD)") from None


def parse_time(text: str) -> timedelta:
    """``HHMMSS`` (leading zeros dropped: ``420`` is 00:04:20), or ``HH:MM:SS``."""
    digits = text.replace(":", "")
    if "." in digits:
        digits = digits.split(".", 1)[0]
    if not digits.isdigit() or len(digits) > 6:
        raise ValueError(f"{text!r} is not a time (HHMMSS)")
    digits = digits.zfill(6)
    hours, minutes, seconds = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"{text!r} is not a time (HHMMSS)")
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def parse_category(text: str) -> tuple[str, str]:
    """(name, parent) of ``name<parent`` (parent empty for a bare name)."""
    name, _, parent = text.partition("<")
    name, parent = name.strip(), parent.strip()
    if not name or ("<" in text and not parent):
        raise ValueError(f"{text!r} is not a category (a name, or name<parent)")
    return name, parent


def is_morphological(text: str) -> bool:
    """Whether the category is none of the tree's: its name, or the group it is in, is one
    of EcoTaxa's non-taxonomic categories, or a temporary group."""
    name, parent = parse_category(text)
    return any(
        part.lower() in NON_TAXONOMIC or bool(_TEMPORARY.match(part))
        for part in (name, parent)
        if part
    )
