"""Consumers are idempotent on the event id: each handled event is recorded in the same
transaction as its effects, so a redelivered event is recognised and skipped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db.base import UtcDateTime, utcnow
from wildlens.common.events import Envelope

__all__ = ["ProcessedEvent", "first_deliveries", "processed_events_table"]


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


async def first_deliveries(
    session: AsyncSession, table: Table, envelopes: Sequence[Envelope], consumer: str
) -> list[Envelope]:
    """The envelopes ``consumer`` has not handled before, recorded as handled in one statement.

    Args:
        session: the transaction the events' effects are written in; the record commits or
            rolls back with them.
        table: the service's processed-events table.
        envelopes: a batch as the bus delivered it; an event in it twice counts once.
        consumer: who handles them (``<service>:<event type>``).

    Returns:
        The new envelopes, in the order of their first appearance in the batch.
    """
    unique = list({e.event_id: e for e in envelopes}.values())
    if not unique:
        return []
    connection = await session.connection()
    now = utcnow()
    if connection.dialect.name == "postgresql":
        # One array parameter: the same prepared statement serves every batch size.
        statement: Any = text(
            f'INSERT INTO "{table.name}" (event_id, consumer, processed_at) '
            "SELECT unnest(CAST(:ids AS VARCHAR[])), :consumer, :at "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        ).bindparams(ids=[e.event_id for e in unique], consumer=consumer, at=now)
    else:
        statement = (
            sqlite_insert(table)
            .values(
                [
                    {"event_id": e.event_id, "consumer": consumer, "processed_at": now}
                    for e in unique
                ]
            )
            .on_conflict_do_nothing()
            .returning(table.c.event_id)
        )
    fresh = set((await connection.execute(statement)).scalars().all())
    return [e for e in unique if e.event_id in fresh]
