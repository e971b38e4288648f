"""Every query of an upload: the medium recorded for some bytes, and the idempotency keys.

Callers own the transaction. The inserts do nothing where the row is already there, instead of
failing: a concurrent upload that recorded the same bytes (or used the same key) first is an
answer to read, not an error, and the transaction goes on to read it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache

from sqlalchemy import Insert, Table, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.ingest.models import IdempotencyKey, IngestedMedia, IngestTable

__all__ = [
    "drop_expired_key",
    "drop_expired_keys",
    "find_key",
    "find_medium",
    "record_key",
    "record_medium",
    "touch_medium",
]

_MEDIA: Table = IngestedMedia.__table__  # type: ignore[attr-defined]
_KEYS: Table = IdempotencyKey.__table__  # type: ignore[attr-defined]


@cache
def _insert_statement(dialect: str, table: Table) -> Insert:
    """One statement per table and dialect, its values bound at each call: SQLAlchemy finds it
    compiled instead of building and keying a new statement for every upload."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()


async def _insert_if_absent(session: AsyncSession, table: Table, row: IngestTable) -> bool:
    """Insert ``row`` unless a row with the same key is there; ``True`` when it went in."""
    connection = await session.connection()
    statement = _insert_statement(connection.dialect.name, table)
    result = await connection.execute(statement, row.model_dump())
    return bool(getattr(result, "rowcount", 0) == 1)


async def find_medium(
    session: AsyncSession, project_id: uuid.UUID, sha256: str
) -> IngestedMedia | None:
    """The project's medium with these bytes, as the database has it now."""
    query = select(IngestedMedia).where(
        IngestedMedia.project_id == project_id, IngestedMedia.sha256 == sha256
    )
    return (await session.exec(query.execution_options(populate_existing=True))).first()


async def record_medium(session: AsyncSession, medium: IngestedMedia) -> bool:
    """Record ``medium``; ``False`` when its project already has these bytes."""
    return await _insert_if_absent(session, _MEDIA, medium)


async def touch_medium(session: AsyncSession, media_id: uuid.UUID) -> None:
    """A write that changes nothing: it makes the transaction SQLite's one writer before it
    looks (what ``hold_content`` needs there), and leaves a medium whose commit went through
    despite an error where it is."""
    await session.exec(
        update(IngestedMedia)
        .where(col(IngestedMedia.id) == media_id)
        .values(sha256=IngestedMedia.sha256)
    )


async def find_key(session: AsyncSession, caller: str, key: str) -> IdempotencyKey | None:
    # Read again even when read earlier in the transaction: a concurrent request may have
    # recorded the key since.
    return await session.get(IdempotencyKey, (caller, key), populate_existing=True)


async def record_key(session: AsyncSession, record: IdempotencyKey) -> bool:
    """Record ``record``; ``False`` when the caller's key is already recorded."""
    return await _insert_if_absent(session, _KEYS, record)


async def drop_expired_key(session: AsyncSession, caller: str, key: str, now: datetime) -> None:
    """Forget the caller's key if it has expired: it is then free to be used again."""
    connection = await session.connection()
    await connection.execute(
        delete(_KEYS).where(
            _KEYS.c.principal == caller, _KEYS.c.key == key, _KEYS.c.expires_at <= now
        )
    )


async def drop_expired_keys(session: AsyncSession, now: datetime) -> None:
    connection = await session.connection()
    await connection.execute(delete(_KEYS).where(_KEYS.c.expires_at <= now))
