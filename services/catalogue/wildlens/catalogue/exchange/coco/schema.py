"""COCO Camera Traps as MegaDetector's data_management README describes it, and the few
fields Wildlens adds so that its own exports come back without loss.

Images carry ``id, file_name, width, height, datetime, seq_id, seq_num_frames, frame_num,
location`` (``id`` a string, ``file_name`` relative to the data set's folder, ``frame_num``
from 0); categories ``id, name`` with 0 = empty; annotations ``id, image_id, category_id,
bbox`` (absolute pixels ``[x, y, width, height]``, top-left origin) and
``sequence_level_annotation``, with COCO's ``area`` and ``iscrowd`` that its evaluation
tools read. Added, and ignored by other readers: ``url`` (where a file that the data set
does not hold can be fetched), ``latitude``, ``longitude`` and ``utc_offset`` on images (the
location's coordinates; the camera clock behind ``datetime``) and ``observation_id`` (the
observation's own id: Wildlens numbers its annotations from 1, as COCO's evaluation needs),
``count``, ``conf``, ``classification_method``, ``classified_by`` on annotations.
"""

from __future__ import annotations

import re
from datetime import datetime

__all__ = [
    "DATETIME_FORMAT",
    "EMPTY",
    "category_name",
    "observation_kind",
    "parse_coco_datetime",
]

# How COCO Camera Traps files write capture times: the camera's local time, no offset.
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
EMPTY = "empty"
_EXIF_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})")
# Category names that are an observation type rather than a taxon.
_TYPES = {
    "empty": "blank",
    "blank": "blank",
    "human": "human",
    "person": "human",
    "vehicle": "vehicle",
    "animal": "animal",
    "unknown": "unknown",
    "unclassified": "unclassified",
}


def parse_coco_datetime(text: str) -> datetime:
    """``2019-05-10 08:10:12``, its EXIF form ``2019:05:10 08:10:12`` or ISO 8601, with or
    without an offset; ValueError for anything else."""
    text = _EXIF_DATE.sub(r"\1-\2-\3", text.strip())
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def observation_kind(name: str) -> tuple[str, str]:
    """A category name as (observation type, scientific name)."""
    kind = _TYPES.get(name.strip().lower())
    if kind is not None:
        return kind, ""
    return "animal", name.strip()


def category_name(observation_type: str, scientific_name: str) -> str:
    """The category an observation is exported under: its taxon, else its type."""
    if scientific_name:
        return scientific_name
    return {"blank": EMPTY, "human": "human"}.get(observation_type, observation_type)
