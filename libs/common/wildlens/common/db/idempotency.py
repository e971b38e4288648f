"""Consumers are idempotent on the event id: each handled event is recorded in the same
transaction as its effects, so a redelivered event is recognised and skipped."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db.base import UtcDateTime, utcnow

__all__ = ["ProcessedEvent", "first_delivery", "processed_events_table"]


class ProcessedEvent:
    """Name of the table, for readers of the schema."""

    table_name = "processed_events"


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        ProcessedEvent.table_name,
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("consumer", String(128), primary_key=True),
        Column("processed_at", UtcDateTime(), nullable=False, default=utcnow),
    )


async def first_delivery(session: AsyncSession, table: Table, event_id: str, consumer: str) -> bool:
    """Record that ``consumer`` handles ``event_id``; ``False`` when it already did."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(event_id=event_id, consumer=consumer, processed_at=utcnow())
        .on_conflict_do_nothing()
    )
    result = await (await session.connection()).execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)
