"""Media as recorded, with their observations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse

from wildlens.catalogue.deps import SessionDep, StoreDep
from wildlens.catalogue.media import service
from wildlens.catalogue.media.schemas import (
    AnalysisPublic,
    LabelPublic,
    MediaPublic,
    ObservationPublic,
)
from wildlens.catalogue.models import Observation
from wildlens.common.http import ERROR_RESPONSES, ErrorBody, PrincipalDep

router = APIRouter(prefix="/v1/media", tags=["media"], responses=ERROR_RESPONSES)


async def _visible(
    media_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> service.VisibleMedia:
    # Media paths name no project: the medium's own project decides who sees it.
    return await service.visible_media(session, principal, media_id)


VisibleMediaDep = Annotated[service.VisibleMedia, Depends(_visible)]


@router.get("/{media_id}", response_model=MediaPublic)
async def get_media(visible: VisibleMediaDep, session: SessionDep) -> MediaPublic:
    """One medium: where and when it was captured, its status and its observations."""
    found = await service.media_contents(session, visible)
    current_ids = {o.id for o in found.current}
    return MediaPublic(
        **found.shown,
        analyses=[
            AnalysisPublic(
                model_name=r.model_name,
                model_version=r.model_version,
                classifier_name=r.classifier_name,
                classifier_version=r.classifier_version,
                analyzed_at=r.analyzed_at,
                failure=r.failure,
                detection_threshold=r.detection_threshold,
            )
            for r in found.runs
        ],
        labels=_labels(found.current),
        observations=[
            ObservationPublic.from_row(
                o,
                model_version=run.model_version if run else None,
                current=o.id in current_ids,
            )
            for o, run in found.observations
        ],
        features=found.features,
        object=found.object,
    )


@router.get(
    "/{media_id}/file",
    status_code=307,
    response_class=RedirectResponse,
    responses={
        307: {
            "description": "To a short-lived URL of the file (no token needed there)",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        409: {
            "model": ErrorBody,
            "description": "The display copy is not made yet; retry after `Retry-After` seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
    },
)
async def get_media_file(visible: VisibleMediaDep, store: StoreDep) -> RedirectResponse:
    """The medium's file: the original for callers with precise_locations, else its display
    copy (a JPEG without EXIF, GPS or XMP); a video's original only with the permission."""
    url = await service.file_url(store, visible)
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, no-store"})


def _labels(current: list[Observation]) -> list[LabelPublic]:
    labels: dict[tuple[str, str, uuid.UUID | None], LabelPublic] = {}
    for o in current:
        key = (o.observation_type, o.scientific_name, o.taxon_id)
        if key in labels:
            labels[key].observations += 1
            continue
        labels[key] = LabelPublic(
            observation_type=o.observation_type,
            scientific_name=o.scientific_name,
            taxon_id=o.taxon_id,
            classification_method=o.classification_method,
            classified_by=o.classified_by,
            observations=1,
        )
    return list(labels.values())
