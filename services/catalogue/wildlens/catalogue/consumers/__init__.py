"""Every bus event the catalogue handles, one module each: decode, open the unit of work, call
the domain, commit (the bus acks after)."""

from wildlens.catalogue.consumers import media_analyzed, media_ingested
from wildlens.common.service import Consumer

__all__ = ["CONSUMERS"]

CONSUMERS = [
    Consumer(media_ingested.EVENT_TYPE, media_ingested.consume, media_ingested.BATCH_SIZE),
    Consumer(media_analyzed.EVENT_TYPE, media_analyzed.consume, media_analyzed.BATCH_SIZE),
]
