"""Each project's prior, learnt from its verified observations in the catalogue's API.

``GET /v1/projects/{id}/observations?classification_method=human&observation_type=animal``,
page by page. Verified sightings keep coming, so a project's prior is rebuilt after ``ttl_s``,
and at once when ``taxonomy.changed`` names the project (names may have moved).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx

from wildlens.common.errors import Unavailable
from wildlens.common.prior import Sighting, SpatiotemporalPrior, sighting_at
from wildlens.inference.taxonomy.tree import name_key

__all__ = ["PriorSource", "sighting"]

PAGE = 1000
# A prior from this many sightings is as good as one from all of them, and reading stays quick.
MAX_SIGHTINGS = 200_000


def sighting(item: dict[str, Any]) -> Sighting | None:
    """One observation from the API as a sighting; None when it names no taxon or people
    marked it dubious or discarded it."""
    if item.get("verification_state") in ("dubious", "discarded"):
        return None  # people doubted or rejected it: it is no sighting
    key = name_key(str(item.get("scientific_name") or "")) or str(item.get("taxon_id") or "")
    if not key:
        return None
    captured = datetime.fromisoformat(str(item["captured_at"])) if item.get("captured_at") else None
    return sighting_at(key, str(item.get("location_id") or ""), captured)


class PriorSource:
    """Args:
    client: gives the service client for the catalogue (asked for on first use).
    ttl_s: how long a project's prior is used before it is learnt again.
    """

    def __init__(self, client: Callable[[], httpx.AsyncClient], *, ttl_s: float = 900.0) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, SpatiotemporalPrior]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, project_id: str) -> SpatiotemporalPrior:
        entry = self._entries.get(project_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        async with self._locks.setdefault(project_id, asyncio.Lock()):
            entry = self._entries.get(project_id)
            if entry is not None and entry[0] > time.monotonic():
                return entry[1]
            sightings = [s async for s in self._sightings(project_id)]
            prior = SpatiotemporalPrior(sightings)
            self._entries[project_id] = (time.monotonic() + self._ttl_s, prior)
            return prior

    def invalidate(self, project_id: str) -> None:
        if project_id:
            self._entries.pop(project_id, None)
        else:
            self._entries.clear()

    async def _sightings(self, project_id: str) -> AsyncIterator[Sighting]:
        path = f"/v1/projects/{project_id}/observations"
        params: dict[str, Any] = {
            "classification_method": "human",
            "observation_type": "animal",
            "limit": PAGE,
        }
        read = 0
        while read < MAX_SIGHTINGS:
            try:
                response = await self._client().get(path, params=params)
            except httpx.HTTPError as exc:
                raise Unavailable(f"the catalogue does not answer {path}: {exc}") from exc
            if response.status_code == 404:
                return
            if response.status_code != 200:
                raise Unavailable(
                    f"the catalogue answered {response.status_code} to {path}: "
                    f"{response.text[:300]}"
                )
            page = response.json()
            for item in page.get("items", []):
                read += 1
                found = sighting(item)
                if found is not None:
                    yield found
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]
