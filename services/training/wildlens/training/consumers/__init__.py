"""Every bus event the training service handles, one module each (only its training workers
subscribe: a process that runs no training jobs hears none)."""

from wildlens.common.service import Consumer
from wildlens.training.consumers import training_requested

__all__ = ["WORKER_CONSUMERS"]

WORKER_CONSUMERS = [Consumer(training_requested.EVENT_TYPE, training_requested.consume)]
