"""Every query of the sweep. Callers own the transaction."""

from __future__ import annotations

import uuid

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.ingest.models import BulkUploadFile, FileState, IngestedMedia

__all__ = ["awaited_staging", "take_write_turn"]


async def take_write_turn(session: AsyncSession, sha256: str) -> None:
    """A write that changes nothing: on SQLite it makes the transaction the one writer before
    it looks, which is how it takes turns with an upload of the same bytes there (an upload
    writes its row before it looks at the store)."""
    await session.exec(
        update(IngestedMedia)
        .where(col(IngestedMedia.sha256) == sha256)
        .values(sha256=IngestedMedia.sha256)
    )


async def awaited_staging(session: AsyncSession, upload_id: uuid.UUID, n: int) -> bool:
    """Whether file ``n`` of the upload is still pending: its staging object is what the
    upload's completion will verify."""
    state = await session.exec(
        select(BulkUploadFile.state).where(
            col(BulkUploadFile.upload_id) == upload_id, col(BulkUploadFile.n) == n
        )
    )
    return state.first() == FileState.PENDING
