"""The country a location lies in, for exports that name one (Darwin Core ``countryCode``),
when its manager gave it no region.

Offline, from GeoNames' populated places (``reverse_geocode``: places of 1,000 people or
more, with their country): the nearest one names the country. Near a border that place can be
across it, so a location's own region always wins; a location farther than ``MAX_KM`` from any
place (open sea, a remote reserve) gets no country rather than a guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import reverse_geocode

__all__ = ["MAX_KM", "countries_of"]

# Beyond this the nearest town says little about the country; GeoNames lists places of
# 1,000 people every few kilometres wherever people live.
MAX_KM = 50.0
_EARTH_KM = 6371.0


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(math.sqrt(a))


def countries_of(points: Iterable[tuple[float, float]]) -> dict[tuple[float, float], str]:
    """ISO 3166-1 alpha-2 code of each (latitude, longitude); "" where none is near. Loads the
    places on first use (about a second), so callers run it off the event loop."""
    wanted = sorted(set(points))
    if not wanted:
        return {}
    nearest = reverse_geocode.search(wanted)
    return {
        point: place["country_code"]
        if _km(*point, place["latitude"], place["longitude"]) <= MAX_KM
        else ""
        for point, place in zip(wanted, nearest, strict=True)
    }
