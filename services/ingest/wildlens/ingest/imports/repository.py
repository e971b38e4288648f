"""Every query of imported originals. Callers own the transaction."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.ingest.models import ImportedMedia

__all__ = ["record_imported"]

_IMPORTED: Table = ImportedMedia.__table__  # type: ignore[attr-defined]


async def record_imported(session: AsyncSession, row: ImportedMedia) -> bool:
    """Record ``row`` unless its medium is recorded already (an announcement delivered twice,
    or a package imported again); ``True`` when it went in."""
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(_IMPORTED).values(row.model_dump()).on_conflict_do_nothing()
    result = await connection.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)
