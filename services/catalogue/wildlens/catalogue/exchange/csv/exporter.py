"""A project's observations as one flat CSV (``observations.csv``), each row with its medium,
deployment and location, for a spreadsheet or R/pandas.

Times are RFC 3339: ``captured_at`` in UTC and ``captured_at_local`` with the deployment's
camera clock. Coordinates are those the export may show (generalised where privacy says so,
with ``coordinate_uncertainty_m`` and ``coordinate_precision``).
"""

from __future__ import annotations

import csv
from typing import Any

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.models.clock import parse_offset

__all__ = ["COLUMNS", "write_observations"]

COLUMNS = [
    "observation_id",
    "observation_level",
    "observation_type",
    "scientific_name",
    "count",
    "life_stage",
    "sex",
    "behavior",
    "confidence",
    "classification_method",
    "classified_by",
    "classified_at",
    "verification_state",
    "bbox_x",
    "bbox_y",
    "bbox_width",
    "bbox_height",
    "event_id",
    "event_start",
    "event_end",
    "media_id",
    "file_path",
    "file_name",
    "media_type",
    "captured_at",
    "captured_at_local",
    "deployment_id",
    "deployment_start",
    "deployment_end",
    "utc_offset",
    "camera_serial",
    "camera_model",
    "location_id",
    "location_name",
    "latitude",
    "longitude",
    "coordinate_uncertainty_m",
    "coordinate_precision",
    "region",
]


# A spreadsheet takes a cell starting with one of these for a formula (CSV injection): a
# location named =HYPERLINK(...) would be a live link. Text people wrote that starts so is
# written with a leading apostrophe, which spreadsheets show as text and do not display
# (OWASP's advice). Numbers, times and ids the platform writes are left as they are, and so
# is the camera clock's offset ("-05:00"), which is the platform's own too.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLATFORM_TEXT = frozenset({"utc_offset"})


def _text(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and column not in _PLATFORM_TEXT and value.startswith(_FORMULA_START):
        return "'" + value
    return str(value)


async def write_observations(ctx: ExportContext) -> None:
    snapshot = await repository.load_snapshot(ctx.session, ctx.project)
    await ctx.progress(0.4)
    path = ctx.folder / "observations.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for o in snapshot.observations:
            deployment_id = snapshot.observation_deployment(o)
            if deployment_id is None or not ctx.coordinates.shows(o.media_id):
                continue
            deployment = snapshot.deployment(deployment_id)
            location = snapshot.locations[deployment.location_id]
            device = snapshot.devices[deployment.device_id]
            medium = snapshot.medium(o.media_id) if o.media_id else None
            place = ctx.coordinates.place(location, deployment.coordinate_uncertainty)
            clock = parse_offset(deployment.utc_offset)
            captured = medium.captured_at if medium else None
            row = {
                "observation_id": o.external_id or o.id,
                "observation_level": o.observation_level,
                "observation_type": o.observation_type,
                "scientific_name": o.scientific_name,
                "count": o.count,
                "life_stage": o.life_stage,
                "sex": o.sex,
                "behavior": o.behavior,
                "confidence": o.confidence,
                "classification_method": o.classification_method,
                "classified_by": o.classified_by,
                "classified_at": o.classification_timestamp or o.classified_at,
                "verification_state": getattr(o, "verification_state", ""),
                "bbox_x": o.bbox_x,
                "bbox_y": o.bbox_y,
                "bbox_width": o.bbox_width,
                "bbox_height": o.bbox_height,
                "event_id": o.event_external_id or getattr(medium, "event_id", None),
                "event_start": o.event_start,
                "event_end": o.event_end,
                "media_id": (medium.external_id or medium.id) if medium else None,
                "file_path": medium.file_path if medium else None,
                "file_name": medium.filename if medium else None,
                "media_type": medium.content_type if medium else None,
                "captured_at": captured,
                "captured_at_local": captured.astimezone(clock) if captured else None,
                "deployment_id": deployment.external_id or deployment.id,
                "deployment_start": deployment.start.astimezone(clock),
                "deployment_end": deployment.end.astimezone(clock) if deployment.end else None,
                "utc_offset": deployment.utc_offset,
                "camera_serial": device.serial,
                "camera_model": device.model,
                "location_id": location.external_id or location.id,
                "location_name": location.name,
                "latitude": place.latitude,
                "longitude": place.longitude,
                "coordinate_uncertainty_m": place.uncertainty_m,
                "coordinate_precision": place.precision,
                "region": location.region,
            }
            writer.writerow({k: _text(v, k) for k, v in row.items()})
