"""Machine results as inference publishes them, for tests that feed the catalogue directly."""

from __future__ import annotations

from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Classification,
    Detection,
    MediaAnalyzed,
    ModelRef,
)


def analysis(
    media_id: str,
    project_id: str,
    *detections: Detection,
    detector: str = "test-detector",
    version: str = "1.0",
) -> MediaAnalyzed:
    """``media.analyzed`` for one medium, analysed now."""
    event = MediaAnalyzed(
        media_id=media_id,
        project_id=project_id,
        detector=ModelRef(name=detector, version=version),
        detections=list(detections),
    )
    event.analyzed_at.GetCurrentTime()
    return event


def animal(confidence: float, scientific_name: str) -> Detection:
    """An animal box labelled with ``scientific_name`` (the label is the name itself)."""
    return Detection(
        category="animal",
        confidence=confidence,
        bbox=BoundingBox(x=0.1, y=0.2, width=0.3, height=0.4),
        classifications=[
            Classification(label=scientific_name, scientific_name=scientific_name, confidence=0.9)
        ],
    )


def person(confidence: float) -> Detection:
    """A person filling the frame."""
    return Detection(
        category="person", confidence=confidence, bbox=BoundingBox(x=0, y=0, width=1, height=1)
    )
