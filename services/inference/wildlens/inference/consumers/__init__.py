"""Every bus event inference handles, one module each: decode, call the runtime's part (the
bus acks when the handler returns). Inference keeps no database: results are published."""

from wildlens.common.service import Consumer
from wildlens.inference.consumers import (
    inference_requested,
    media_recorded,
    model_promoted,
    taxonomy_changed,
)

__all__ = ["CONSUMERS", "MEDIA_RECORDED"]

# From start-up on.
CONSUMERS = [
    Consumer(model_promoted.EVENT_TYPE, model_promoted.consume, broadcast=True),
    Consumer(taxonomy_changed.EVENT_TYPE, taxonomy_changed.consume, broadcast=True),
    Consumer(inference_requested.EVENT_TYPE, inference_requested.consume),
]

# From the moment a detector or a classifier serves, in batches of the micro-batcher's size
# (``WILDLENS_INFERENCE__MAX_BATCH``).
MEDIA_RECORDED = Consumer(media_recorded.EVENT_TYPE, media_recorded.consume)
