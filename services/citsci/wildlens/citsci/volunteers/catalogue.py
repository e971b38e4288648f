"""What making subjects and classifying read from the catalogue's API (never its tables),
with a service token: each medium's hash (which names its display copy), that it is the
project's and an image or frame, whether an expert has validated it already (a gold-standard
subject), whether it shows people (refused where the project hides them), and the taxa the
project expects volunteers to choose from."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from wildlens.citsci.people import PEOPLE_REASON, hides_people, shows_people
from wildlens.common.errors import (
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
    Unavailable,
    WildlensError,
)

__all__ = [
    "CatalogueMedium",
    "any_shows_people",
    "expert_names",
    "expert_verdicts",
    "join_project",
    "project_taxa",
    "project_taxon_names",
    "subject_media",
]

CONCURRENCY = 8
SHOWN_KINDS = ("image", "frame")
# A medium's id as the caller holds it (a UUID, or its text).
K = TypeVar("K", uuid.UUID, str)


@dataclass(frozen=True, slots=True)
class CatalogueMedium:
    media_id: uuid.UUID
    sha256: str
    # The names an expert gave or validated ("" for a blank); None while no expert judged it.
    expert_names: tuple[str, ...] | None
    shows_people: bool = False


def expert_names(observations: Sequence[dict[str, Any]]) -> tuple[str, ...] | None:
    """What an expert said of a medium, from the catalogue's current observations: the
    labels people gave (not volunteers) or validated; None when no expert has judged it."""
    judged = [
        o
        for o in observations
        if o.get("current", True)
        and (
            o.get("verification_state") == "validated"
            or (
                o.get("classification_method") == "human"
                and not str(o.get("classified_by", "")).startswith("volunteers:")
            )
        )
    ]
    if not judged:
        return None
    return tuple(
        sorted(
            {
                str(o.get("scientific_name") or "")
                for o in judged
                if o.get("observation_type", "animal") in ("animal", "blank")
            }
        )
    )


async def _media(
    client: Callable[[], httpx.AsyncClient], media_ids: Sequence[K]
) -> dict[K, dict[str, Any] | None]:
    """Each medium as ``GET /v1/media/{id}`` shows it (None: not there), a few at a time.

    Raises:
        Unavailable: the catalogue did not answer.
    """
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(media_id: K) -> tuple[K, dict[str, Any] | None]:
        async with limit:
            try:
                response = await client().get(f"/v1/media/{media_id}")
            except httpx.HTTPError as exc:
                raise Unavailable(f"the catalogue does not answer: {exc}") from exc
        if response.status_code == 404:
            return media_id, None
        if response.status_code != 200:
            raise Unavailable(f"the catalogue answered {response.status_code} for a medium")
        medium: dict[str, Any] = response.json()
        return media_id, medium

    return dict(await asyncio.gather(*(one(m) for m in media_ids)))


async def subject_media(
    client: Callable[[], httpx.AsyncClient],
    project_id: uuid.UUID,
    subjects: Sequence[Sequence[uuid.UUID]],
) -> list[list[CatalogueMedium]]:
    """Each subject's media, in the order given.

    Raises:
        Invalid: some are not images or frames of the project, or show people the project
            hides (each named).
        Unavailable: the catalogue did not answer.
    """
    wanted = sorted({m for media in subjects for m in media})
    hidden = await hides_people(client, project_id)

    def judged(media_id: uuid.UUID, medium: dict[str, Any] | None) -> CatalogueMedium | str:
        if medium is None or medium.get("project_id") != str(project_id):
            return f"medium {media_id} is not in the project"
        if medium.get("kind") not in SHOWN_KINDS:
            return f"medium {media_id} is a {medium.get('kind')}, not an image or frame"
        observations = medium.get("observations") or []
        if hidden and shows_people(observations):
            return f"medium {media_id}: {PEOPLE_REASON}"
        return CatalogueMedium(
            media_id, str(medium["sha256"]), expert_names(observations), shows_people(observations)
        )

    found = {m: judged(m, medium) for m, medium in (await _media(client, wanted)).items()}
    problems = [
        FieldError(location=["body", "subjects", s, "media_ids", i], message=f, type="not_found")
        for s, media in enumerate(subjects)
        for i, m in enumerate(media)
        if isinstance(f := found[m], str)
    ]
    if problems:
        raise Invalid("some media cannot be shown to volunteers", fields=problems)
    return [[found[m] for m in media] for media in subjects]  # type: ignore[misc]


async def expert_verdicts(
    client: Callable[[], httpx.AsyncClient], media_ids: Sequence[str]
) -> dict[str, tuple[str, ...] | None]:
    """What an expert said of each medium now (None: nobody judged it, or it is gone).

    Raises:
        Unavailable: the catalogue did not answer.
    """
    return {
        m: None if medium is None else expert_names(medium.get("observations") or [])
        for m, medium in (await _media(client, media_ids)).items()
    }


async def project_taxa(
    client: Callable[[], httpx.AsyncClient], project_id: uuid.UUID
) -> dict[str, uuid.UUID]:
    """The taxa the project expects to see, by scientific name in lower case (empty when the
    project keeps no list, and any taxon goes).

    Raises:
        Unavailable: the catalogue did not answer.
    """
    return {
        name.casefold(): uuid.UUID(taxon_id)
        for name, taxon_id in (await project_taxon_names(client, project_id)).items()
    }


async def project_taxon_names(
    client: Callable[[], httpx.AsyncClient], project_id: uuid.UUID
) -> dict[str, str]:
    """The taxa the project expects to see: their ids by scientific name as the catalogue
    spells it (empty when the project keeps no list).

    Raises:
        Unavailable: the catalogue did not answer.
    """
    try:
        response = await client().get(f"/v1/projects/{project_id}/taxa")
    except httpx.HTTPError as exc:
        raise Unavailable(f"the catalogue does not answer: {exc}") from exc
    if response.status_code != 200:
        raise Unavailable(f"the catalogue answered {response.status_code} for the project's taxa")
    return {str(t["scientific_name"]): str(t["id"]) for t in response.json().get("taxa", [])}


async def any_shows_people(
    client: Callable[[], httpx.AsyncClient], media_ids: Sequence[str]
) -> bool:
    """Whether any of the media shows people now (one gone from the catalogue counts as
    showing nothing).

    Raises:
        Unavailable: the catalogue did not answer.
    """
    return any(
        medium is not None and shows_people(medium.get("observations") or [])
        for medium in (await _media(client, media_ids)).values()
    )


# The catalogue's refusals of a join, passed on as they are.
REFUSALS: dict[int, type[WildlensError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    422: Invalid,
}


async def join_project(
    client: Callable[[], httpx.AsyncClient], project_id: uuid.UUID, caller_token: str
) -> dict[str, Any]:
    """Join the project as a volunteer in the catalogue, which owns memberships, on the
    caller's own token (not the service's): the catalogue decides who may.

    Raises:
        Unauthorized, Forbidden, NotFound, Invalid: the catalogue's refusal, with its reason.
        Unavailable: the catalogue did not answer.
    """
    try:
        response = await client().post(
            f"/v1/projects/{project_id}/join",
            auth=_Bearer(caller_token),
        )
    except httpx.HTTPError as exc:
        raise Unavailable(f"the catalogue does not answer: {exc}") from exc
    refusal = REFUSALS.get(response.status_code)
    if refusal is not None:
        detail = response.json().get("detail") if response.content else None
        raise refusal(str(detail or "the catalogue refused to add you to the project"))
    if response.status_code != 200:
        raise Unavailable(f"the catalogue answered {response.status_code} for joining")
    answer: dict[str, Any] = response.json()
    return answer


class _Bearer(httpx.Auth):
    """The caller's own token instead of the client's service token, for one request."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request
