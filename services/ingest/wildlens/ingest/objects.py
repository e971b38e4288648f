"""Where originals live in object storage: content-addressed, immutable while any medium holds
them (an upload's, or an import's the catalogue stored and announced with ``media.imported``)."""

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db import transaction_lock
from wildlens.ingest.models import ImportedMedia, IngestedMedia

__all__ = ["ORIGINALS_PREFIX", "hold_content", "holders", "original_key", "original_sha256"]

ORIGINALS_PREFIX = "media/"
_HEX = frozenset("0123456789abcdef")


def original_key(sha256: str, extension: str) -> str:
    return f"{ORIGINALS_PREFIX}{sha256[:2]}/{sha256}.{extension}"


def original_sha256(key: str) -> str | None:
    """The content hash an original's key names; ``None`` for a key not laid out as
    ``original_key`` lays them out."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != ORIGINALS_PREFIX:
        return None
    sha256 = parts[2].split(".", 1)[0]
    if len(sha256) != 64 or not set(sha256) <= _HEX or parts[1] != sha256[:2]:
        return None
    return sha256


async def hold_content(session: AsyncSession, sha256: str) -> None:
    """Until ``session``'s transaction ends, no other transaction that holds the same bytes
    records or removes them: an upload that reuses a stored original and the removal of the
    last medium with those bytes take turns, so neither removes what the other keeps.

    Both write before they look, which is what ``transaction_lock`` needs on SQLite.
    """
    key = int(sha256[:15], 16)  # 60 bits: within a bigint
    await transaction_lock(await session.connection(), key)


async def holders(session: AsyncSession, sha256: str) -> int:
    """How many media, in any project, uploaded or imported, have these bytes (and so keep
    their original)."""
    total = 0
    for column in (IngestedMedia.sha256, ImportedMedia.sha256):
        count = select(func.count()).where(col(column) == sha256)
        total += int((await session.exec(count)).one())
    return total
