"""Async database access shared by every service: engines, sessions, table bases, the
transactional outbox, consumer idempotency and Alembic migrations."""

from wildlens.common.db.base import (
    NAMING_CONVENTION,
    UtcDateTime,
    new_metadata,
    utcnow,
)
from wildlens.common.db.engine import Database, create_database
from wildlens.common.db.idempotency import (
    ProcessedEvent,
    first_deliveries,
    processed_events_table,
)
from wildlens.common.db.locks import transaction_lock
from wildlens.common.db.outbox import OutboxMessage, OutboxRelay, outbox_table, stage

__all__ = [
    "NAMING_CONVENTION",
    "Database",
    "OutboxMessage",
    "OutboxRelay",
    "ProcessedEvent",
    "UtcDateTime",
    "create_database",
    "first_deliveries",
    "new_metadata",
    "outbox_table",
    "processed_events_table",
    "stage",
    "transaction_lock",
    "utcnow",
]
