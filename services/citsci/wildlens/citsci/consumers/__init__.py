"""The events citsci consumes, one thin module each."""

from wildlens.citsci.consumers import observations_changed
from wildlens.common.service import Consumer

__all__ = ["CONSUMERS"]

CONSUMERS = [
    Consumer(
        observations_changed.EVENT_TYPE,
        observations_changed.consume,
        observations_changed.BATCH_SIZE,
    ),
]
