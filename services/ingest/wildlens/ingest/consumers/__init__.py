"""Every bus event ingest handles, one module each: decode, open the unit of work where there
is one, call the domain (the bus acks when the handler returns)."""

from wildlens.common.service import Consumer
from wildlens.ingest.consumers import (
    derivatives_requested,
    device_revoked,
    media_deleted,
    media_imported,
    video_requested,
)

__all__ = ["CONSUMERS", "WORKERS"]

# Every replica, always.
CONSUMERS = [
    Consumer(
        device_revoked.EVENT_TYPE,
        device_revoked.consume,
        device_revoked.BATCH_SIZE,
        broadcast=True,
    ),
]

# Ingest's own work queues, the catalogue's removals and its imported originals: on the
# replicas that run workers (``WILDLENS_INGEST__RUN_WORKERS``).
WORKERS = [
    Consumer(
        derivatives_requested.EVENT_TYPE,
        derivatives_requested.consume,
        derivatives_requested.BATCH_SIZE,
    ),
    Consumer(video_requested.EVENT_TYPE, video_requested.consume, video_requested.BATCH_SIZE),
    Consumer(media_deleted.EVENT_TYPE, media_deleted.consume, media_deleted.BATCH_SIZE),
    Consumer(media_imported.EVENT_TYPE, media_imported.consume, media_imported.BATCH_SIZE),
]
