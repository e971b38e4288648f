"""Media as recorded, with their observations."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlmodel import col, select

from wildlens.catalogue.access import require_project
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.media.models import Media, ModelRun, Observation
from wildlens.catalogue.media.schemas import AnalysisPublic, MediaPublic, ObservationPublic
from wildlens.common.errors import NotFound
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep

router = APIRouter(prefix="/v1/media", tags=["media"], responses=ERROR_RESPONSES)


@router.get("/{media_id}", response_model=MediaPublic)
async def get_media(
    media_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> MediaPublic:
    """One medium: where and when it was captured, its status and its observations."""
    principal.require_user()
    media = await session.get(Media, media_id)
    if media is None:
        raise NotFound(f"media {media_id} not found")
    try:
        await require_project(session, principal, media.project_id)
    except NotFound:
        raise NotFound(f"media {media_id} not found") from None
    rows = (
        await session.exec(
            select(Observation, ModelRun)
            .join(ModelRun, col(Observation.model_run_id) == col(ModelRun.id), isouter=True)
            .where(Observation.media_id == media_id)
            .order_by(col(Observation.classified_at), col(Observation.id))
        )
    ).all()
    observations = [
        ObservationPublic(
            id=o.id,
            observation_type=o.observation_type,
            category=o.category,
            confidence=o.confidence,
            bbox=o.bbox,
            scientific_name=o.scientific_name,
            classification_method=o.classification_method,
            classified_by=o.classified_by,
            model_version=run.model_version if run else None,
            classified_at=o.classified_at,
        )
        for o, run in rows
    ]
    runs = (
        await session.exec(
            select(ModelRun)
            .where(ModelRun.media_id == media_id)
            .order_by(col(ModelRun.analyzed_at))
        )
    ).all()
    analyses = [
        AnalysisPublic(
            model_name=r.model_name,
            model_version=r.model_version,
            analyzed_at=r.analyzed_at,
            failure=r.failure,
            detection_threshold=r.detection_threshold,
        )
        for r in runs
    ]
    return MediaPublic(
        **media.model_dump(exclude={"object_key", "size_bytes", "uploaded_by"}),
        analyses=analyses,
        observations=observations,
    )
