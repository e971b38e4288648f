"""What sending reads from the catalogue's API (never its tables), with a service token: each
medium's hash (which names its display copy) and capture time, that it is the project's, and
that it shows no people where the project hides them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import httpx

from wildlens.citsci.people import PEOPLE_REASON, hides_people, shows_people
from wildlens.citsci.zooniverse.service import SubjectMedium
from wildlens.common.errors import FieldError, Invalid, Unavailable

__all__ = ["project_media"]

CONCURRENCY = 8


async def project_media(
    client: Callable[[], httpx.AsyncClient], project_id: uuid.UUID, media_ids: Sequence[uuid.UUID]
) -> list[SubjectMedium]:
    """The media, in the order given.

    Raises:
        Invalid: some are not media of the project, or show people the project hides (each
            named).
        Unavailable: the catalogue did not answer.
    """
    limit = asyncio.Semaphore(CONCURRENCY)
    hidden = await hides_people(client, project_id)

    async def one(media_id: uuid.UUID) -> SubjectMedium | str:
        path = f"/v1/media/{media_id}"
        async with limit:
            try:
                response = await client().get(path)
            except httpx.HTTPError as exc:
                raise Unavailable(f"the catalogue does not answer: {exc}") from exc
        if response.status_code == 404:
            return f"medium {media_id} is not in the project"
        if response.status_code != 200:
            raise Unavailable(f"the catalogue answered {response.status_code} for a medium")
        medium = response.json()
        if medium.get("project_id") != str(project_id):
            return f"medium {media_id} is not in the project"
        if hidden and shows_people(medium.get("observations") or []):
            return f"medium {media_id}: {PEOPLE_REASON}"
        captured = medium.get("captured_at")
        return SubjectMedium(
            media_id=media_id,
            sha256=str(medium["sha256"]),
            captured_at=datetime.fromisoformat(captured) if captured else None,
        )

    found = await asyncio.gather(*(one(m) for m in media_ids))
    refused = [(i, f) for i, f in enumerate(found) if isinstance(f, str)]
    if refused:
        raise Invalid(
            "some media cannot be sent to Zooniverse",
            fields=[
                FieldError(location=["body", "media_ids", i], message=f, type="not_found")
                for i, f in refused
            ],
        )
    return [f for f in found if not isinstance(f, str)]
