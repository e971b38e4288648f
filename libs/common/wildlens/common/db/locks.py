"""Locks held for the rest of a transaction, for work that must take turns across processes."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["transaction_lock"]


async def transaction_lock(connection: AsyncConnection, key: int, *, wait: bool = True) -> bool:
    """Hold ``key`` (a signed 64-bit number) until the transaction ends; with ``wait`` False,
    answer False at once when another transaction holds it.

    On PostgreSQL an advisory lock. SQLite lets one transaction write at a time, and one
    process holds the file, so callers that write before they look already take turns
    there: always True.
    """
    if connection.dialect.name != "postgresql":
        return True
    if wait:
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        return True
    taken = await connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
    return bool(taken.scalar())
