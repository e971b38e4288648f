"""Media with people never leave the platform when the project hides people: whether a
project does (its privacy settings, read from the catalogue's API) and whether a medium shows
people (a current human observation of anyone's, not discarded)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from wildlens.common.errors import NotFound, Unavailable

__all__ = ["PEOPLE_REASON", "hides_people", "shows_people"]

PEOPLE_REASON = "it shows people, and the project hides people"


def shows_people(observations: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a medium with these observations (the catalogue's, as JSON) shows people."""
    return any(
        o.get("observation_type") == "human" and o.get("verification_state") != "discarded"
        for o in observations
    )


async def hides_people(client: Callable[[], httpx.AsyncClient], project_id: uuid.UUID) -> bool:
    """The project's ``hide_people`` privacy setting.

    Raises:
        NotFound: the catalogue has no such project.
        Unavailable: the catalogue did not answer.
    """
    try:
        response = await client().get(f"/v1/projects/{project_id}/privacy")
    except httpx.HTTPError as exc:
        raise Unavailable(f"the catalogue does not answer: {exc}") from exc
    if response.status_code == 404:
        raise NotFound(f"project {project_id} not found")
    if response.status_code != 200:
        raise Unavailable(f"the catalogue answered {response.status_code} for the privacy")
    return bool(response.json().get("hide_people"))
