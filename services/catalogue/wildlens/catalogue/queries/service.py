"""The media and observation lists: filters checked against the project, the caller's privacy
applied, one keyset page at a time; media with short-lived download URLs (of the originals for
callers with ``precise_locations``, of the GPS-free display copies for everyone else)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.models import Media, Observation
from wildlens.catalogue.objects.repository import features_of, objects_of
from wildlens.catalogue.objects.schemas import ObjectSummary
from wildlens.catalogue.privacy import FileChoice, Withheld, media_files, request_view
from wildlens.catalogue.queries import repository
from wildlens.catalogue.queries.filters import Filters, problem
from wildlens.common.db import utcnow
from wildlens.common.errors import FieldError, Invalid
from wildlens.common.http.pagination import PageParams
from wildlens.common.storage import ObjectStore

__all__ = [
    "URL_LIFETIME",
    "MediaLink",
    "MediaPage",
    "check_references",
    "media_page",
    "observations_page",
]

# Long enough to page through a screen of thumbnails, short enough that a leaked list of URLs
# is soon useless.
URL_LIFETIME = timedelta(minutes=15)


async def check_references(session: AsyncSession, project_id: uuid.UUID, f: Filters) -> Filters:
    """422 for a location, deployment or taxon that the filter names but that does not exist
    (in this project, for locations and deployments): an empty list would hide the typo. A
    score's taxon given by its id is named by its scientific name in the filters returned."""
    problems: list[FieldError] = []
    if f.order.score is not None:
        try:
            score_taxon: uuid.UUID | None = uuid.UUID(f.order.score)
        except ValueError:
            score_taxon = None
        if score_taxon is not None:
            taxon = await repository.get_taxon(session, score_taxon)
            if taxon is None:
                problems.append(problem("sort", f"{f.order.score} is not a taxon"))
            else:
                f = replace(f, order=replace(f.order, score=taxon.scientific_name))
    if f.location_id is not None:
        location = await repository.get_location(session, f.location_id)
        if location is None or location.project_id != project_id:
            problems.append(problem("location_id", "is not a location of this project"))
    if f.deployment_id is not None:
        deployment = await repository.get_deployment(session, f.deployment_id)
        if deployment is None or deployment.project_id != project_id:
            problems.append(problem("deployment_id", "is not a deployment of this project"))
    if f.taxon_id is not None and not await repository.taxon_exists(session, f.taxon_id):
        problems.append(problem("taxon_id", "is not a taxon"))
    if problems:
        raise Invalid("; ".join(p.message for p in problems), fields=problems)
    return f


@dataclass(frozen=True)
class MediaLink:
    """Where a listed medium's file downloads from, for this caller, or why it does not."""

    url: str | None
    expires_at: datetime | None
    file: FileChoice | None
    withheld: Withheld | None


@dataclass(frozen=True)
class MediaPage:
    # (media, its location id, its link), in capture order.
    rows: list[tuple[Media, uuid.UUID | None, MediaLink]]
    next_cursor: str | None
    # The objects among them: their features and object rows.
    features: dict[uuid.UUID, dict[str, float]]
    objects: dict[uuid.UUID, ObjectSummary]


async def media_page(
    session: AsyncSession,
    store: ObjectStore,
    access: ProjectAccess,
    f: Filters,
    page: PageParams,
) -> MediaPage:
    """The media the caller may see, in capture order, each with a short-lived URL of the file
    the caller may have, and the next cursor."""
    project_id = access.project.id
    f = await check_references(session, project_id, f)
    view = await request_view(session, access)
    rows, next_cursor = await repository.find_media(
        session, project_id, f, page, visible=view.visible_media()
    )
    files = await media_files(store, [m for m, _ in rows], originals=view.precise)
    expires_at = utcnow() + URL_LIFETIME
    linked = []
    for media, location_id in rows:
        file = files[media.id]
        url = await store.url_for_get(file.key, URL_LIFETIME) if file.key else None
        link = MediaLink(url, expires_at if url else None, file.file, file.withheld)
        linked.append((media, location_id, link))
    ids = [m.id for m, _ in rows]
    return MediaPage(
        linked, next_cursor, await features_of(session, ids), await objects_of(session, ids)
    )


async def observations_page(
    session: AsyncSession, access: ProjectAccess, f: Filters, page: PageParams
) -> tuple[list[tuple[Observation, Any, Any, Any]], str | None]:
    """(observation, capture time, deployment id, location id) the caller may see, in the
    capture order of their media, and the next cursor."""
    project_id = access.project.id
    f = await check_references(session, project_id, f)
    visible = (await request_view(session, access)).visible_media()
    return await repository.find_observations(session, project_id, f, page, visible=visible)
