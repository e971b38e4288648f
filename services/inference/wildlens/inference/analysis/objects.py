"""Single objects' ``media.analyzed`` results: no detector runs, an object's whole image is its
one box (``WHOLE_OBJECT`` stands where a detector is named).

A batch's results are copied from two messages made once for the batch, one for an object
analysed and one for an object that could not be: copying a prepared message costs a fifth of
building one field by field, which for a small vignette was a visible part of its analysis.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.timestamp_pb2 import Timestamp

from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    MediaAnalyzed,
    MediaRecorded,
    ModelRef,
)

__all__ = ["OBJECT_CATEGORY", "WHOLE_OBJECT", "ObjectResults"]

# What stands in for the detector for a single object: its whole image is its one box, an
# organism to classify (``media.analyzed`` names it where it names a detector).
WHOLE_OBJECT = ModelRef(name="whole-object", version="1")
# The category of that one box: what the classification stage classifies.
OBJECT_CATEGORY = "animal"


class ObjectResults:
    """The results of one batch of single objects, all stamped with the time it was made.

    Args:
        threshold: the platform's detection threshold, carried by each analysed result.
    """

    def __init__(self, threshold: float) -> None:
        now = Timestamp()
        now.GetCurrentTime()
        self._analysed = MediaAnalyzed(
            detector=WHOLE_OBJECT, detection_threshold=threshold, analyzed_at=now
        )
        self._analysed.detections.add(
            category=OBJECT_CATEGORY,
            confidence=1.0,
            bbox=BoundingBox(x=0.0, y=0.0, width=1.0, height=1.0),
        )
        self._failed = MediaAnalyzed(detector=WHOLE_OBJECT, analyzed_at=now)

    def analysed(
        self, event: MediaRecorded, size: tuple[int, int], timings_ms: Mapping[str, float]
    ) -> MediaAnalyzed:
        """The object's one whole-image box, to be classified; ``size``: its width and height."""
        result = MediaAnalyzed()
        result.CopyFrom(self._analysed)
        result.media_id = event.media_id
        result.project_id = event.project_id
        result.image_width, result.image_height = size
        result.timings_ms.update(timings_ms)
        return result

    def failed(self, event: MediaRecorded, reason: str) -> MediaAnalyzed:
        """The object could not be analysed, and why: no box."""
        result = MediaAnalyzed()
        result.CopyFrom(self._failed)
        result.media_id = event.media_id
        result.project_id = event.project_id
        result.failure = reason
        return result
