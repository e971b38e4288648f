"""What inference asks the catalogue: which media match, and where their bytes are.

The catalogue is the system of record and never hands out object keys; its media lists carry a
short-lived download URL per item, which inference reads through
:func:`wildlens.common.storage.download`, so it reads exactly what the catalogue let it read.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from wildlens.common.errors import FieldError, Invalid, NotFound, Unavailable
from wildlens.common.service.clients import ServiceClients

__all__ = [
    "MediaRef",
    "caller_media",
    "find_media_url",
    "matching_page",
]

PAGE = 500  # media per catalogue page when looking one item up
# Media the catalogue lists with the same capture time as the one sought, at most.
MAX_PAGES_FOR_ONE = 20
ANALYSABLE = ("image", "frame")


@dataclass(frozen=True)
class MediaRef:
    media_id: str
    project_id: str
    kind: str
    url: str | None


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code == 200:
        return
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if response.status_code == 404:
        raise NotFound(str(detail))
    if response.status_code == 422:
        body = response.json()
        fields = [FieldError.model_validate(f) for f in body.get("fields") or []]
        raise Invalid(str(detail), fields=fields)
    raise Unavailable(f"the catalogue answered {response.status_code} for {what}: {detail}")


async def caller_media(
    clients: ServiceClients, authorization: str, media_id: uuid.UUID
) -> dict[str, Any]:
    """``GET /v1/media/{id}`` as the caller: the catalogue decides whether they may read it.

    Raises:
        NotFound: no such media, or it is in a project the caller cannot see.
    """
    client = clients.client("catalogue")
    try:
        # The caller's own token, not the service's: the catalogue checks their rights.
        response = await client.get(
            f"/v1/media/{media_id}", headers={"Authorization": authorization}, auth=None
        )
    except httpx.HTTPError as exc:
        raise Unavailable(f"the catalogue does not answer: {exc}") from exc
    if response.status_code in (401, 403, 404):
        raise NotFound(f"media {media_id} not found")
    _raise_for(response, f"media {media_id}")
    return dict(response.json())


async def _page(
    clients: ServiceClients,
    project_id: str,
    params: dict[str, Any],
    cursor: str | None,
    limit: int = PAGE,
) -> tuple[list[dict[str, Any]], str | None]:
    query = {k: v for k, v in params.items() if v is not None} | {"limit": limit}
    if cursor:
        query["cursor"] = cursor
    try:
        response = await clients.client("catalogue").get(
            f"/v1/projects/{project_id}/media", params=query
        )
    except httpx.HTTPError as exc:
        raise Unavailable(f"the catalogue does not answer: {exc}") from exc
    _raise_for(response, f"the media of project {project_id}")
    body = response.json()
    return list(body["items"]), body.get("next_cursor") or None


async def _pages(
    clients: ServiceClients, project_id: str, params: dict[str, Any]
) -> AsyncIterator[list[dict[str, Any]]]:
    cursor: str | None = None
    while True:
        items, cursor = await _page(clients, project_id, params, cursor)
        yield items
        if not cursor:
            return


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def matching_page(
    clients: ServiceClients,
    project_id: str,
    *,
    deployment_id: str | None = None,
    captured_from: datetime | None = None,
    captured_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = PAGE,
) -> tuple[list[MediaRef], str | None]:
    """One page of the project's images and frames that match, in capture order, and the
    cursor of the next page (``None`` after the last).

    Raises:
        Invalid: the catalogue refused a filter (a deployment of another project, say).
    """
    params = {
        "deployment_id": deployment_id,
        "captured_from": _iso(captured_from),
        "captured_to": _iso(captured_to),
    }
    items, next_cursor = await _page(clients, project_id, params, cursor, limit)
    refs = [
        MediaRef(str(i["id"]), str(i["project_id"]), str(i["kind"]), i.get("url"))
        for i in items
        if i["kind"] in ANALYSABLE
    ]
    return refs, next_cursor


async def find_media_url(clients: ServiceClients, media: dict[str, Any]) -> str:
    """The download URL the catalogue lists for one media item (found by its capture time)."""
    media_id = str(media["id"])
    captured = media.get("captured_at")
    start = datetime.fromisoformat(captured) if captured else None
    params = {
        "deployment_id": media.get("deployment_id"),
        "captured_from": _iso(start),
        "captured_to": _iso(start + timedelta(milliseconds=1)) if start else None,
    }
    pages = 0
    async for items in _pages(clients, str(media["project_id"]), params):
        for item in items:
            if str(item["id"]) == media_id:
                if not item.get("url"):
                    raise Invalid(f"media {media_id} has no file the platform holds")
                return str(item["url"])
        pages += 1
        if pages >= MAX_PAGES_FOR_ONE:
            break
    raise NotFound(f"media {media_id} not found")
