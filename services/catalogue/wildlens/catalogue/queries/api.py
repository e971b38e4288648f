"""A project's media and observations, filtered and paged."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from wildlens.catalogue.access import require_access
from wildlens.catalogue.deps import ContextDep, SessionDep
from wildlens.catalogue.privacy import request_view
from wildlens.catalogue.queries.filters import Filters, check_references, filters
from wildlens.catalogue.queries.repository import find_media, find_observations
from wildlens.catalogue.queries.schemas import MediaItem, ObservationItem
from wildlens.common.db import utcnow
from wildlens.common.http import ERROR_RESPONSES, Page, PrincipalDep

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["queries"], responses=ERROR_RESPONSES)

FiltersDep = Annotated[Filters, Depends(filters)]
Limit = Annotated[int, Query(ge=1, le=1000)]
# Long enough to page through a screen of thumbnails, short enough that a leaked list of URLs
# is soon useless.
URL_LIFETIME = timedelta(minutes=15)


@router.get("/media", response_model=Page[MediaItem])
async def query_media(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    f: FiltersDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[MediaItem]:
    """The project's media in capture order, filtered, each with a short-lived image URL."""
    access = await require_access(session, principal, project_id)
    await check_references(session, project_id, f)
    visible = (await request_view(session, access)).visible_media()
    rows, next_cursor = await find_media(
        session, project_id, f, limit=limit, cursor=cursor, visible=visible
    )
    expires_at = utcnow() + URL_LIFETIME
    items = []
    for media, location_id in rows:
        url = (
            await ctx.store.url_for_get(media.object_key, URL_LIFETIME)
            if media.object_key
            else None
        )
        items.append(
            MediaItem(
                **media.model_dump(
                    include={
                        "id",
                        "project_id",
                        "deployment_id",
                        "kind",
                        "content_type",
                        "filename",
                        "width",
                        "height",
                        "captured_at",
                        "status",
                        "parent_media_id",
                        "offset_ms",
                    }
                ),
                location_id=location_id,
                url=url,
                url_expires_at=expires_at if url else None,
            )
        )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/observations", response_model=Page[ObservationItem])
async def query_observations(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    f: FiltersDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[ObservationItem]:
    """The project's observations in the capture order of their media, filtered."""
    access = await require_access(session, principal, project_id)
    await check_references(session, project_id, f)
    visible = (await request_view(session, access)).visible_media()
    rows, next_cursor = await find_observations(
        session, project_id, f, limit=limit, cursor=cursor, visible=visible
    )
    items = [
        ObservationItem(
            id=o.id,
            project_id=o.project_id,
            media_id=o.media_id,
            deployment_id=deployment_id,
            location_id=location_id,
            captured_at=captured_at,
            observation_type=o.observation_type,
            category=o.category,
            confidence=o.confidence,
            bbox=o.bbox,
            scientific_name=o.scientific_name,
            taxon_id=o.taxon_id,
            classification_method=o.classification_method,
            classified_by=o.classified_by,
            classified_at=o.classified_at,
            verification_state=o.verification_state,
            verified_by=o.verified_by,
            verified_at=o.verified_at,
        )
        for o, captured_at, deployment_id, location_id in rows
    ]
    return Page(items=items, next_cursor=next_cursor)
