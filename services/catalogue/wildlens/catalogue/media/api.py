"""Media as recorded, with their observations."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlmodel import col, select

from wildlens.catalogue.access import require_access
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.media.schemas import (
    AnalysisPublic,
    LabelPublic,
    MediaPublic,
    ObservationPublic,
)
from wildlens.catalogue.models import Media, ModelRun, Observation
from wildlens.catalogue.observations.current import current_observations
from wildlens.catalogue.privacy import request_view
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
        access = await require_access(session, principal, media.project_id)
    except NotFound:
        raise NotFound(f"media {media_id} not found") from None
    privacy = await request_view(session, access)
    if await privacy.shows_people(session, media_id):
        # Hidden from this caller (the project hides media with people from volunteers).
        raise NotFound(f"media {media_id} not found")
    rows = (
        await session.exec(
            select(Observation, ModelRun)
            .join(ModelRun, col(Observation.model_run_id) == col(ModelRun.id), isouter=True)
            .where(Observation.media_id == media_id)
            .order_by(col(Observation.classified_at), col(Observation.id))
        )
    ).all()
    current = current_observations(o for o, _ in rows)
    current_ids = {o.id for o in current}
    observations = [
        ObservationPublic(
            id=o.id,
            observation_type=o.observation_type,
            category=o.category,
            confidence=o.confidence,
            bbox=o.bbox,
            scientific_name=o.scientific_name,
            taxon_id=o.taxon_id,
            classification_confidence=o.classification_confidence,
            classification_method=o.classification_method,
            classified_by=o.classified_by,
            model_version=run.model_version if run else None,
            classified_at=o.classified_at,
            verification_state=o.verification_state,
            verified_by=o.verified_by,
            verified_at=o.verified_at,
            current=o.id in current_ids,
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
    sensitive = media.id in await privacy.sensitive_media_of(session, [media])
    shown = media.model_dump(exclude={"object_key", "size_bytes", "uploaded_by"})
    if sensitive and media.latitude is not None and media.longitude is not None:
        place = privacy.place(media.latitude, media.longitude, sensitive=True)
        shown.update(latitude=place.latitude, longitude=place.longitude)
    shown["raw_metadata"] = privacy.raw_metadata(media.raw_metadata, sensitive=sensitive)
    return MediaPublic(
        **shown,
        analyses=analyses,
        labels=_labels(current),
        observations=observations,
    )


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
