"""How Camtrap DP columns map onto the catalogue's tables, in both directions.

Columns not listed here are the ones that need lookups (ids, locations, cameras) and are
handled by the importer and exporter themselves.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timezone
from typing import Any, Literal

Kind = Literal["str", "int", "float", "bool", "datetime", "json"]

# (Camtrap DP column, attribute, kind)
DEPLOYMENT_FIELDS: list[tuple[str, str, Kind]] = [
    ("coordinateUncertainty", "coordinate_uncertainty", "int"),
    ("setupBy", "setup_by", "str"),
    ("cameraDelay", "camera_delay", "int"),
    ("cameraHeight", "camera_height", "float"),
    ("cameraDepth", "camera_depth", "float"),
    ("cameraTilt", "camera_tilt", "int"),
    ("cameraHeading", "camera_heading", "int"),
    ("detectionDistance", "detection_distance", "float"),
    ("timestampIssues", "timestamp_issues", "bool"),
    ("baitUse", "bait_use", "bool"),
    ("featureType", "feature_type", "str"),
    ("habitat", "habitat", "str"),
    ("deploymentGroups", "deployment_groups", "str"),
    ("deploymentTags", "deployment_tags", "str"),
    ("deploymentComments", "deployment_comments", "str"),
]
MEDIA_FIELDS: list[tuple[str, str, Kind]] = [
    ("captureMethod", "capture_method", "str"),
    ("filePublic", "file_public", "bool"),
    ("fileName", "filename", "str"),
    ("fileMediatype", "content_type", "str"),
    ("exifData", "exif_data", "json"),
    ("favorite", "favorite", "bool"),
    ("mediaComments", "comments", "str"),
]
OBSERVATION_FIELDS: list[tuple[str, str, Kind]] = [
    ("eventID", "event_external_id", "str"),
    ("eventStart", "event_start", "datetime"),
    ("eventEnd", "event_end", "datetime"),
    ("observationLevel", "observation_level", "str"),
    ("observationType", "observation_type", "str"),
    ("cameraSetupType", "camera_setup_type", "str"),
    ("scientificName", "scientific_name", "str"),
    ("count", "count", "int"),
    ("lifeStage", "life_stage", "str"),
    ("sex", "sex", "str"),
    ("behavior", "behavior", "str"),
    ("individualID", "individual_id", "str"),
    ("individualPositionRadius", "individual_position_radius", "float"),
    ("individualPositionAngle", "individual_position_angle", "float"),
    ("individualSpeed", "individual_speed", "float"),
    ("bboxX", "bbox_x", "float"),
    ("bboxY", "bbox_y", "float"),
    ("bboxWidth", "bbox_width", "float"),
    ("bboxHeight", "bbox_height", "float"),
    ("classificationMethod", "classification_method", "str"),
    ("classifiedBy", "classified_by", "str"),
    ("classificationTimestamp", "classification_timestamp", "datetime"),
    ("classificationProbability", "confidence", "float"),
    ("observationTags", "tags", "str"),
    ("observationComments", "comments", "str"),
]


def parse_datetime(text: str) -> datetime:
    """An RFC 3339 timestamp with its offset; ValueError without one (it cannot be placed)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return value


def offset_text(value: datetime) -> str:
    """The offset of an aware timestamp as Camtrap DP and EXIF write it (``+02:00``)."""
    delta = value.utcoffset()
    assert delta is not None
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse(text: str, kind: Kind) -> Any:
    """A CSV cell (already checked against the table schema) as the attribute's value."""
    if text == "":
        return "" if kind == "str" else None
    if kind == "str":
        return text
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text.lower() in ("true", "1")
    if kind == "json":
        # Camtrap DP types exifData as "any"; text that is not JSON is kept as it came.
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return parse_datetime(text).astimezone(UTC)


def render(value: Any, kind: Kind, tz: timezone = UTC) -> str:
    """An attribute's value as a CSV cell; timestamps in ``tz`` (``Z`` for UTC)."""
    if value is None or value == "":
        return ""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "json":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if kind == "float":
        return repr(float(value))
    if kind == "datetime":
        # The profile's datetimes carry whole seconds; machine times carry microseconds.
        text: str = value.astimezone(tz).replace(microsecond=0).isoformat()
        return text.replace("+00:00", "Z")
    return str(value)
