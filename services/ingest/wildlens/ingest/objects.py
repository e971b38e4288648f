"""Where originals live in object storage: content-addressed, immutable while any upload holds
them."""

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db import transaction_lock


def original_key(sha256: str, extension: str) -> str:
    return f"media/{sha256[:2]}/{sha256}.{extension}"


async def hold_content(session: AsyncSession, sha256: str) -> None:
    """Until ``session``'s transaction ends, no other transaction that holds the same bytes
    records or removes them: an upload that reuses a stored original and the removal of the
    last medium with those bytes take turns, so neither removes what the other keeps.

    Both write before they look, which is what ``transaction_lock`` needs on SQLite.
    """
    key = int(sha256[:15], 16)  # 60 bits: within a bigint
    await transaction_lock(await session.connection(), key)
