"""Every bus event the catalogue handles, one module each: decode, open the unit of work, call
the domain, commit (the bus acks after)."""

from wildlens.catalogue.consumers import citsci_consensus, media_analyzed, media_ingested
from wildlens.common.service import Consumer

__all__ = ["CONSUMERS"]

CONSUMERS = [
    Consumer(media_ingested.EVENT_TYPE, media_ingested.consume, media_ingested.BATCH_SIZE),
    Consumer(media_analyzed.EVENT_TYPE, media_analyzed.consume, media_analyzed.BATCH_SIZE),
    Consumer(citsci_consensus.EVENT_TYPE, citsci_consensus.consume, citsci_consensus.BATCH_SIZE),
]
