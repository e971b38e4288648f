"""Where originals live in object storage: content-addressed, immutable while any upload holds
them."""

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession


def original_key(sha256: str, extension: str) -> str:
    return f"media/{sha256[:2]}/{sha256}.{extension}"


async def hold_content(session: AsyncSession, sha256: str) -> None:
    """Until ``session``'s transaction ends, no other transaction that holds the same bytes
    records or removes them: an upload that reuses a stored original and the removal of the
    last medium with those bytes take turns, so neither removes what the other keeps.

    On PostgreSQL an advisory lock on the hash; SQLite lets one transaction write at a time,
    and both write before they look.
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        key = int(sha256[:15], 16)  # 60 bits: within a bigint
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
