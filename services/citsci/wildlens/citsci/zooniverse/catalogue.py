"""What sending reads from the catalogue's API (never its tables), with a service token: each
medium's hash (which names its display copy) and capture time, and that it is the project's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import httpx

from wildlens.citsci.zooniverse.service import SubjectMedium
from wildlens.common.errors import FieldError, Invalid, Unavailable

__all__ = ["project_media"]

CONCURRENCY = 8


async def project_media(
    client: Callable[[], httpx.AsyncClient], project_id: uuid.UUID, media_ids: Sequence[uuid.UUID]
) -> list[SubjectMedium]:
    """The media, in the order given.

    Raises:
        Invalid: some are not media of the project (each named).
        Unavailable: the catalogue did not answer.
    """
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(media_id: uuid.UUID) -> SubjectMedium | None:
        path = f"/v1/media/{media_id}"
        async with limit:
            try:
                response = await client().get(path)
            except httpx.HTTPError as exc:
                raise Unavailable(f"the catalogue does not answer: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable(f"the catalogue answered {response.status_code} for a medium")
        medium = response.json()
        if medium.get("project_id") != str(project_id):
            return None
        captured = medium.get("captured_at")
        return SubjectMedium(
            media_id=media_id,
            sha256=str(medium["sha256"]),
            captured_at=datetime.fromisoformat(captured) if captured else None,
        )

    found = await asyncio.gather(*(one(m) for m in media_ids))
    missing = [i for i, f in enumerate(found) if f is None]
    if missing:
        raise Invalid(
            "some media are not the project's",
            fields=[
                FieldError(
                    location=["body", "media_ids", i],
                    message=f"medium {media_ids[i]} is not in the project",
                    type="not_found",
                )
                for i in missing
            ],
        )
    return [f for f in found if f is not None]
