"""A project that starts hiding people after its media were sent: every Zooniverse subject
that shows a medium with people is withdrawn (retired there, never sent again), checked
whenever a set is sent to or pulled from, by hand or in the background.

The catalogue's API tells which media show people: the project's human observations, a
page at a time (a project holds few; they are read whole, as ids)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import structlog

from wildlens.citsci.people import hides_people, shows_people
from wildlens.citsci.zooniverse import service
from wildlens.citsci.zooniverse.gateway import Zooniverse
from wildlens.citsci.zooniverse.retirement import retire_pending
from wildlens.common.db import Database
from wildlens.common.errors import Unavailable

__all__ = ["media_showing_people", "withdraw_hidden_people"]

log = structlog.get_logger(__name__)

# Observations per page read.
PAGE = 500


async def media_showing_people(
    client: Callable[[], httpx.AsyncClient], project_id: uuid.UUID
) -> set[uuid.UUID]:
    """The project's media with a current human observation that is not discarded.

    Raises:
        Unavailable: the catalogue did not answer.
    """
    found: set[uuid.UUID] = set()
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"observation_type": "human", "limit": PAGE}
        if cursor:
            params["cursor"] = cursor
        try:
            response = await client().get(f"/v1/projects/{project_id}/observations", params=params)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the catalogue does not answer: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"the catalogue answered {response.status_code} for observations")
        body = response.json()
        items = body.get("items", [])
        found |= {
            uuid.UUID(str(o["media_id"])) for o in items if o.get("media_id") and shows_people([o])
        }
        cursor = body.get("next_cursor")
        if not cursor:
            return found


async def withdraw_hidden_people(
    db: Database,
    client: Callable[[], httpx.AsyncClient],
    project_id: uuid.UUID,
    zooniverse: Zooniverse,
) -> int:
    """Where the project hides people, withdraw its Zooniverse subjects that show media with
    people (committed first), and retire them on Zooniverse; answers how many it withdrew
    from the workflows. A retirement Zooniverse refuses waits for the next pull or retry.

    Raises:
        NotFound: the catalogue has no such project.
        Unavailable: the catalogue did not answer.
    """
    if not await hides_people(client, project_id):
        return 0
    shown = await media_showing_people(client, project_id)
    if not shown:
        return 0
    pending = 0
    async with db.transaction() as session:
        for media_id in sorted(shown):
            pending += await service.withdraw_people(session, project_id, media_id)
    if pending:
        log.info("zooniverse.people_withdrawn", project=str(project_id), subjects=pending)
        await retire_pending(db, zooniverse)
    return pending
