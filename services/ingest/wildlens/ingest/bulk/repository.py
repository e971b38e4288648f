"""Queries on bulk uploads; callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from wildlens.common.db import utcnow
from wildlens.common.db.pagination import SortKey, page_by_keys, parse_int
from wildlens.common.http.pagination import PageParams
from wildlens.ingest.models import BulkUpload, BulkUploadFile, FileState, IngestedMedia


async def get_upload(
    session: AsyncSession, upload_id: uuid.UUID, *, lock: bool = False
) -> BulkUpload | None:
    query = select(BulkUpload).where(BulkUpload.id == upload_id)
    if lock:
        # Serialises manifest pages of one upload, which hand out file numbers.
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def files_by_sha(
    session: AsyncSession, upload_id: uuid.UUID, shas: Iterable[str]
) -> dict[str, BulkUploadFile]:
    rows = await session.exec(
        select(BulkUploadFile).where(
            BulkUploadFile.upload_id == upload_id, col(BulkUploadFile.sha256).in_(list(shas))
        )
    )
    return {row.sha256: row for row in rows}


async def known_media(
    session: AsyncSession, project_id: uuid.UUID, shas: Iterable[str]
) -> dict[str, uuid.UUID]:
    """Media ids of the contents the project already has, by SHA-256."""
    rows = await session.exec(
        select(IngestedMedia.sha256, IngestedMedia.id).where(
            IngestedMedia.project_id == project_id, col(IngestedMedia.sha256).in_(list(shas))
        )
    )
    return dict(rows.all())


def _files(
    upload_id: uuid.UUID, states: Sequence[FileState] | None
) -> SelectOfScalar[BulkUploadFile]:
    query = select(BulkUploadFile).where(BulkUploadFile.upload_id == upload_id)
    if states:
        query = query.where(col(BulkUploadFile.state).in_([s.value for s in states]))
    return query


async def list_files(
    session: AsyncSession, upload_id: uuid.UUID, *, states: Sequence[FileState] | None = None
) -> list[BulkUploadFile]:
    """Every file of the upload in manifest order, of ``states`` where given."""
    query = _files(upload_id, states).order_by(col(BulkUploadFile.n))
    return list((await session.exec(query)).all())


async def files_page(
    session: AsyncSession,
    upload_id: uuid.UUID,
    page: PageParams,
    *,
    states: Sequence[FileState] | None = None,
) -> tuple[list[BulkUploadFile], str | None]:
    """A page of the upload's files in manifest order, of ``states`` where given, and the
    cursor of the next page."""
    keys = [SortKey(col(BulkUploadFile.n), parse_int)]
    return await page_by_keys(session, _files(upload_id, states), keys, lambda f: [f.n], page)


async def count_states(session: AsyncSession, upload_id: uuid.UUID) -> dict[str, int]:
    rows = await session.exec(
        select(BulkUploadFile.state, func.count())
        .where(BulkUploadFile.upload_id == upload_id)
        .group_by(col(BulkUploadFile.state))
    )
    return {state: int(count) for state, count in rows.all()}


async def settle(
    session: AsyncSession,
    upload_id: uuid.UUID,
    n: int,
    state: FileState,
    *,
    media_id: uuid.UUID | None = None,
    error: str | None = None,
) -> bool:
    """Move a pending file to its final state; False when another call settled it first."""
    result = await session.exec(
        update(BulkUploadFile)
        .where(
            col(BulkUploadFile.upload_id) == upload_id,
            col(BulkUploadFile.n) == n,
            col(BulkUploadFile.state) == FileState.PENDING.value,
        )
        .values(state=state.value, media_id=media_id, error=error, updated_at=utcnow())
    )
    return bool(result.rowcount)
