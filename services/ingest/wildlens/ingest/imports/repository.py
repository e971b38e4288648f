"""Every query of imported originals. Callers own the transaction."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.ingest.models import ImportedMedia

__all__ = ["record_imported"]

_IMPORTED: Table = ImportedMedia.__table__  # type: ignore[attr-defined]


async def record_imported(session: AsyncSession, row: ImportedMedia) -> None:
    """Record ``row``, or what its medium holds now where it is recorded already: a package
    imported again may bring other bytes for the same medium, and then those are what it
    holds (the earlier ones are held no longer, unless another medium has them)."""
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    values = row.model_dump()
    statement = insert(_IMPORTED).values(values)
    held = {k: statement.excluded[k] for k in ("sha256", "object_key", "content_type")}
    await connection.execute(statement.on_conflict_do_update(index_elements=["id"], set_=held))
