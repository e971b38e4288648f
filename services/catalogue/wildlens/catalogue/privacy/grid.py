"""Coordinate generalisation on a grid of decimal degrees.

A point is moved to the centre of its grid cell (cells of ``precision`` degrees on each side,
aligned on 0° latitude and 0° longitude), the way GBIF's guide to generalising sensitive
species data (Chapman 2020) and Camtrap DP's ``coordinatePrecision`` describe it. The
uncertainty is the distance from the centre to the cell's farthest corner (the corner nearer
the equator, where a degree of longitude is widest) plus whatever uncertainty the point had
already: the true position lies within that circle, as Darwin Core's
``coordinateUncertaintyInMeters`` asks. A precision of 0.1° gives cells of about 11 km by
7 km in Belgium and a radius of about 6.8 km there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Place", "generalise"]

# Mean Earth radius (IUGG), what haversine distances use.
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Place:
    """A point as one audience may see it."""

    latitude: float
    longitude: float
    # Metres; None where the point is exact and no uncertainty was recorded.
    uncertainty_m: int | None
    # Decimal degrees the coordinates were generalised to; None for exact ones.
    precision: float | None

    @property
    def generalised(self) -> bool:
        return self.precision is not None


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _cell_centre(value: float, precision: Decimal, low: float, high: float) -> float:
    # Decimal arithmetic: 50.699 with 0.1 must give 50.65, not 50.650000000000006.
    step = precision
    index = (Decimal(repr(value)) / step).to_integral_value(rounding="ROUND_FLOOR")
    centre = float(index * step + step / 2)
    return max(low, min(high, centre))


def generalise(
    latitude: float, longitude: float, precision: float, uncertainty_m: int | None = None
) -> Place:
    """The centre of the ``precision``-degree cell holding the point, and how far from it the
    point may be (metres, rounded up).

    Args:
        latitude: decimal degrees, -90 to 90.
        longitude: decimal degrees, -180 to 180.
        precision: the cell size in decimal degrees (0.01, 0.1, 0.5, 1, ...).
        uncertainty_m: the point's own uncertainty, added to the cell's.
    """
    if not precision > 0:
        raise ValueError("precision must be a positive number of degrees")
    step = Decimal(repr(precision))
    lat = _cell_centre(latitude, step, -90.0, 90.0)
    lon = _cell_centre(longitude, step, -180.0, 180.0)
    half = float(step) / 2
    # The corner nearer the equator is the farthest from the centre.
    corner_lat = max(-90.0, min(90.0, lat - half if lat >= 0 else lat + half))
    radius = _haversine_m(lat, lon, corner_lat, lon + half)
    total = math.ceil(radius) + (uncertainty_m or 0)
    return Place(latitude=lat, longitude=lon, uncertainty_m=total, precision=float(step))
