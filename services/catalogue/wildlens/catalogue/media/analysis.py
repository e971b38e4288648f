"""``media.analyzed`` → machine observations, once per medium and model version."""

from __future__ import annotations

import uuid
from datetime import UTC

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.media.models import Media, ModelRun, Observation
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.media_pb2 import MediaAnalyzed

# MegaDetector's categories → Camtrap DP's observationType.
OBSERVATION_TYPES = {"animal": "animal", "person": "human", "human": "human", "vehicle": "vehicle"}


class MediaNotRecordedYet(RuntimeError):
    """The analysis overtook the recording; redelivery will find the media."""


async def store_analysis(session: AsyncSession, envelope: Envelope) -> None:
    event = unpack(envelope, MediaAnalyzed)
    media = await session.get(Media, uuid.UUID(event.media_id))
    if media is None:
        raise MediaNotRecordedYet(f"media {event.media_id} is not recorded yet")
    existing = (
        await session.exec(
            select(ModelRun).where(
                ModelRun.media_id == media.id,
                ModelRun.model_name == event.detector.name,
                ModelRun.model_version == event.detector.version,
            )
        )
    ).first()
    if existing is not None:
        return
    analyzed_at = (
        event.analyzed_at.ToDatetime(tzinfo=UTC)
        if event.HasField("analyzed_at")
        else envelope.occurred_at
    )
    run = ModelRun(
        media_id=media.id,
        model_name=event.detector.name,
        model_version=event.detector.version,
        model_sha256=event.detector.sha256,
        classifier_name=event.classifier.name,
        classifier_version=event.classifier.version,
        detection_threshold=event.detection_threshold,
        failure=event.failure,
        timings_ms=dict(event.timings_ms),
        analyzed_at=analyzed_at,
    )
    session.add(run)
    await session.flush()
    classified_by = f"{event.detector.name}@{event.detector.version}"
    for detection in event.detections:
        top = max(detection.classifications, key=lambda c: c.confidence, default=None)
        session.add(
            Observation(
                project_id=media.project_id,
                media_id=media.id,
                model_run_id=run.id,
                observation_type=OBSERVATION_TYPES.get(detection.category, "unknown"),
                category=detection.category,
                confidence=detection.confidence,
                bbox_x=detection.bbox.x,
                bbox_y=detection.bbox.y,
                bbox_width=detection.bbox.width,
                bbox_height=detection.bbox.height,
                scientific_name=top.scientific_name if top else "",
                classification_method="machine",
                classified_by=classified_by,
                classified_at=analyzed_at,
            )
        )
    if not event.failure:
        media.status = "analyzed"
        if media.analyzed_at is None or media.analyzed_at < analyzed_at:
            media.analyzed_at = analyzed_at
        session.add(media)
    await session.flush()
