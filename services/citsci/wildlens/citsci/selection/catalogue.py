"""What selection reads from the catalogue's API (never its tables), with a service token:
the project's candidates, a page at a time, in the review queue's order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from wildlens.common.errors import Unavailable

__all__ = ["PAGE", "candidates"]

# Candidates per page read.
PAGE = 200


async def candidates(
    client: Callable[[], httpx.AsyncClient], project_id: uuid.UUID, *, page: int = PAGE
) -> AsyncIterator[dict[str, Any]]:
    """The project's candidates (``GET /v1/projects/{id}/review/candidates``), one by one.

    Raises:
        Unavailable: the catalogue did not answer.
    """
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": page}
        if cursor:
            params["cursor"] = cursor
        try:
            response = await client().get(
                f"/v1/projects/{project_id}/review/candidates", params=params
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"the catalogue does not answer: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"the catalogue answered {response.status_code} for candidates")
        body = response.json()
        for item in body.get("items", []):
            yield item
        cursor = body.get("next_cursor")
        if not cursor:
            return
