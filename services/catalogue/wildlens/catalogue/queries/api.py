"""A project's media and observations, filtered and paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from wildlens.catalogue.access import AnnotatorDep, ViewerDep
from wildlens.catalogue.deps import BusDep, SessionDep, StoreDep
from wildlens.catalogue.queries import selection, service
from wildlens.catalogue.queries.filters import Filters, filters, selection_filters
from wildlens.catalogue.queries.schemas import (
    MediaItem,
    ObservationItem,
    Reclassification,
    SelectionChange,
)
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["queries"], responses=ERROR_RESPONSES)

FiltersDep = Annotated[Filters, Depends(filters)]
SelectionDep = Annotated[Filters, Depends(selection_filters)]
SelectionLimit = Annotated[
    int,
    Query(
        ge=1,
        le=selection.MAX_SELECTION,
        description="The most observations the call may change: a selection holding more is "
        "refused (422) and nothing changes",
    ),
]
# What a media list item shows of the medium itself.
_MEDIA_FIELDS = {
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


@router.get("/media", response_model=Page[MediaItem])
async def query_media(
    session: SessionDep,
    access: ViewerDep,
    store: StoreDep,
    f: FiltersDep,
    page: PageDep,
) -> Page[MediaItem]:
    """The project's media in capture order (or by an object feature, `sort`), filtered
    (`feature` conditions among them), each with a short-lived URL of its file: the original
    for callers with precise_locations, else its GPS-free display copy (and no URL for
    videos); `url_withheld` says why an item has none."""
    found = await service.media_page(session, store, access, f, page)
    items = [
        MediaItem(
            **media.model_dump(include=_MEDIA_FIELDS),
            location_id=location_id,
            url=link.url,
            url_expires_at=link.expires_at,
            url_file=link.file,
            url_withheld=link.withheld,
            features=found.features.get(media.id),
            object=found.objects.get(media.id),
        )
        for media, location_id, link in found.rows
    ]
    return Page(items=items, next_cursor=found.next_cursor)


@router.get("/observations", response_model=Page[ObservationItem])
async def query_observations(
    session: SessionDep,
    access: ViewerDep,
    f: FiltersDep,
    page: PageDep,
) -> Page[ObservationItem]:
    """The project's observations in the capture order of their media (or by their object's
    feature, `sort`), filtered (`feature` conditions on their media among them)."""
    rows, next_cursor = await service.observations_page(session, access, f, page)
    items = [
        ObservationItem.from_row(
            o, captured_at=captured_at, deployment_id=deployment_id, location_id=location_id
        )
        for o, captured_at, deployment_id, location_id in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


@router.post("/selection/validate", response_model=SelectionChange)
async def validate_selection(
    session: SessionDep,
    access: AnnotatorDep,
    bus: BusDep,
    f: SelectionDep,
    limit: SelectionLimit = 1000,
) -> SelectionChange:
    """Validate every observation the observation list with these filters holds (object
    features among them) that makes its medium's label, at once: each change in its history,
    all or none (annotators)."""
    return await selection.judge_selection(session, bus, access, f, limit, "validate")


@router.post("/selection/dubious", response_model=SelectionChange)
async def doubt_selection(
    session: SessionDep,
    access: AnnotatorDep,
    bus: BusDep,
    f: SelectionDep,
    limit: SelectionLimit = 1000,
) -> SelectionChange:
    """Mark every observation of the filtered selection as doubtful at once (annotators)."""
    return await selection.judge_selection(session, bus, access, f, limit, "dubious")


@router.post("/selection/reclassify", response_model=SelectionChange)
async def reclassify_selection(
    body: Reclassification,
    session: SessionDep,
    access: AnnotatorDep,
    bus: BusDep,
    f: SelectionDep,
    limit: SelectionLimit = 1000,
) -> SelectionChange:
    """Give every observation of the filtered selection this taxon (or non-taxonomic
    category) at once, validated as the annotator's (annotators)."""
    return await selection.reclassify_selection(session, bus, access, f, limit, body)
