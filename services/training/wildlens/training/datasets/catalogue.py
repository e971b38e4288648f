"""What a dataset reads from the catalogue's API (never its tables), with a service token.

* ``GET /v1/projects/{id}/observations?observation_type=animal``: the observations, with their
  box, taxon, verification, location and capture time;
* ``GET /v1/taxa/{id}``: each taxon's ancestors, for roll-ups and classes by family;
* ``GET /v1/projects/{id}/media``: each medium's download URL (the catalogue decides which
  file a caller gets) and deployment, and a single object's features;
* ``GET /v1/projects/{id}/events``: the events (sequences), to know each medium's event;
* ``GET /v1/projects/{id}/locations`` with the *caller's* token: the coordinates a COCO export
  may show them, generalised by the catalogue's privacy rules where they lack
  precise_locations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from wildlens.common.errors import NotFound, Unavailable
from wildlens.training.datasets.records import Ancestor, Record

__all__ = ["CatalogueReader", "MediaFile"]

PAGE = 1000
CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class MediaFile:
    media_id: str
    url: str | None
    deployment_id: str
    width: int | None
    height: int | None
    # A single object's features (named numbers); None for other media and objects without.
    features: dict[str, float] | None = None
    # A single object (a plankton vignette): its whole image is its crop.
    single_object: bool = False


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


class CatalogueReader:
    """Reads one project's confirmed observations and media through ``client()``, a service
    client for the catalogue (asked for on first use)."""

    def __init__(self, client: Callable[[], httpx.AsyncClient]) -> None:
        self._client = client
        self._limit = asyncio.Semaphore(CONCURRENCY)

    async def _get(
        self, path: str, params: dict[str, Any] | None = None, *, authorization: str = ""
    ) -> Any:
        extra: dict[str, Any] = {}
        if authorization:
            # The caller's own token: the catalogue applies their rights and privacy.
            extra = {"headers": {"Authorization": authorization}, "auth": None}
        async with self._limit:
            try:
                response = await self._client().get(path, params=params, **extra)
            except httpx.HTTPError as exc:
                raise Unavailable(f"the catalogue does not answer {path}: {exc}") from exc
        if response.status_code in (401, 403, 404):
            raise NotFound(f"the catalogue does not show {path}")
        if response.status_code != 200:
            raise Unavailable(
                f"the catalogue answered {response.status_code} to {path}: {response.text[:300]}"
            )
        return response.json()

    async def _pages(
        self, path: str, params: dict[str, Any] | None = None, *, authorization: str = ""
    ) -> AsyncIterator[dict[str, Any]]:
        query = {**(params or {}), "limit": PAGE}
        while True:
            page = await self._get(path, query, authorization=authorization)
            for item in page.get("items", []):
                yield dict(item)
            if not page.get("next_cursor"):
                return
            query["cursor"] = page["next_cursor"]

    async def records(self, project_id: str, *, only_validated: bool) -> list[Record]:
        """The project's animal observations of a medium (with a box, or without one where
        the medium is a single object), each with its taxon's lineage and its medium's
        event; ``only_validated`` asks the catalogue for validated ones only."""
        params: dict[str, Any] = {"observation_type": "animal"}
        if only_validated:
            params["verification_state"] = "validated"
        items = [
            item
            async for item in self._pages(f"/v1/projects/{project_id}/observations", params)
            # Without a box only a single object's label says what its whole image shows;
            # which media are objects the media list says (``build``).
            if item.get("media_id")
        ]
        boxless = {str(i["media_id"]) for i in items if not i.get("bbox")}
        listed = await self.media(project_id, boxless) if boxless else {}
        # A single object's label is about its whole image: the whole image is its box.
        whole = {m for m, found in listed.items() if found.single_object}
        lineages = await self.lineages({str(i["taxon_id"]) for i in items if i.get("taxon_id")})
        events = await self._events(project_id)
        records = []
        for item in items:
            captured = _when(item.get("captured_at"))
            box = item.get("bbox") or (
                [0.0, 0.0, 1.0, 1.0] if str(item["media_id"]) in whole else None
            )
            taxon = str(item.get("taxon_id") or "")
            records.append(
                Record(
                    observation_id=str(item["id"]),
                    media_id=str(item["media_id"]),
                    scientific_name=str(item.get("scientific_name") or ""),
                    verification_state=str(item.get("verification_state") or ""),
                    classification_method=str(item.get("classification_method") or ""),
                    classified_by=str(item.get("classified_by") or ""),
                    location_id=str(item.get("location_id") or ""),
                    event_id=_event_of(events, item.get("deployment_id"), captured),
                    captured_at=captured,
                    bbox=(float(box[0]), float(box[1]), float(box[2]), float(box[3]))
                    if box
                    else None,
                    taxon_id=taxon,
                    lineage=lineages.get(taxon, ()),
                )
            )
        return records

    async def lineages(self, taxon_ids: set[str]) -> dict[str, tuple[Ancestor, ...]]:
        async def lineage(taxon_id: str) -> tuple[str, tuple[Ancestor, ...]]:
            try:
                detail = await self._get(f"/v1/taxa/{taxon_id}")
            except NotFound:
                return taxon_id, ()
            # Ancestors as the catalogue lists them, from the root down or up: ordered here
            # from the taxon itself up to the root by following parent ids.
            nodes = {str(a["id"]): a for a in [detail, *detail.get("ancestors", [])]}
            chain: list[Ancestor] = []
            current: dict[str, Any] | None = detail
            while current is not None and len(chain) <= len(nodes):
                chain.append(Ancestor(str(current["rank"]), str(current["scientific_name"])))
                parent = current.get("parent_id")
                current = nodes.get(str(parent)) if parent else None
            return taxon_id, tuple(chain)

        found = await asyncio.gather(*(lineage(t) for t in sorted(taxon_ids)))
        return dict(found)

    async def _events(self, project_id: str) -> dict[str, list[tuple[datetime, datetime, str]]]:
        events: dict[str, list[tuple[datetime, datetime, str]]] = {}
        async for item in self._pages(f"/v1/projects/{project_id}/events"):
            start, end = _when(item.get("start")), _when(item.get("end"))
            if start is None or end is None:
                continue
            events.setdefault(str(item["deployment_id"]), []).append((start, end, str(item["id"])))
        return events

    async def media(self, project_id: str, wanted: set[str]) -> dict[str, MediaFile]:
        """Download URLs of the ``wanted`` media of the project."""
        found: dict[str, MediaFile] = {}
        async for item in self._pages(f"/v1/projects/{project_id}/media"):
            media_id = str(item["id"])
            if media_id in wanted:
                features = item.get("features")
                found[media_id] = MediaFile(
                    media_id,
                    item.get("url"),
                    str(item.get("deployment_id") or ""),
                    item.get("width"),
                    item.get("height"),
                    {str(k): float(v) for k, v in features.items()} if features else None,
                    item.get("object") is not None or bool(features),
                )
        return found

    async def locations(self, project_id: str, authorization: str) -> dict[str, dict[str, Any]]:
        """The project's locations as the caller may see them (by id)."""
        return {
            str(item["id"]): item
            async for item in self._pages(
                f"/v1/projects/{project_id}/locations", authorization=authorization
            )
        }


def _event_of(
    events: dict[str, list[tuple[datetime, datetime, str]]],
    deployment_id: Any,
    captured: datetime | None,
) -> str:
    if not deployment_id or captured is None:
        return ""
    for start, end, event_id in events.get(str(deployment_id), []):
        if start <= captured <= end:
            return event_id
    return ""
