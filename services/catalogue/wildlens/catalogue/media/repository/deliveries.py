"""Which bus events a consumer handles for the first time, recorded in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db import utcnow
from wildlens.common.events import Envelope

__all__ = ["first_deliveries"]


async def first_deliveries(
    session: AsyncSession, table: Table, envelopes: Sequence[Envelope], consumer: str
) -> list[Envelope]:
    """The envelopes ``consumer`` has not handled before, recorded as handled in one statement."""
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
