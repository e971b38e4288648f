"""Every query of the audit domain: the rows a deletion removes (found through the tables'
foreign keys), what it logs of them, and the log itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, String, Table, cast, delete, func, select, update
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    AuditEntry,
    Deployment,
    Media,
    ModelRun,
    ObjectRecord,
    Observation,
    metadata,
)
from wildlens.common.db.pagination import SortKey, page_by_keys, parse_datetime
from wildlens.common.http.pagination import PageParams

__all__ = [
    "audit_page",
    "deployment",
    "deployment_media",
    "deployment_observation_count",
    "frames_of",
    "hashes_in_use",
    "media",
    "model_runs_of",
    "object_views",
    "observations_of",
    "remove_deployment",
    "remove_media",
    "views_in_use",
]

# References form short chains (history → observation → model run → media → deployment);
# anything deeper is a cycle.
_MAX_DEPTH = 8


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


async def _remove(
    session: AsyncSession, table: Table, where: ColumnElement[bool], depth: int = 0
) -> None:
    """Delete the rows of ``table`` meeting ``where``: references declared ``ON DELETE SET
    NULL`` are cleared, any other reference's rows are removed first, in turn."""
    if depth > _MAX_DEPTH:
        raise RuntimeError(f"references to {table.name} nest deeper than {_MAX_DEPTH}")
    connection = await session.connection()
    for child in metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is not table or child is table:
                continue
            refers = fk.parent.in_(select(fk.column).where(where))
            if (fk.ondelete or "").upper() == "SET NULL":
                await connection.execute(update(child).where(refers).values({fk.parent.name: None}))
            else:
                await _remove(session, child, refers, depth + 1)
    await connection.execute(delete(table).where(where))


async def remove_media(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    """Delete the media ``ids`` and everything that refers to them."""
    await _remove(session, _table(Media), _table(Media).c.id.in_(ids))


async def remove_deployment(session: AsyncSession, deployment_id: uuid.UUID) -> None:
    """Delete the deployment and everything that refers to it (its media and their frames)."""
    await _remove(session, _table(Deployment), _table(Deployment).c.id == deployment_id)


async def media(session: AsyncSession, media_id: uuid.UUID) -> Media | None:
    return await session.get(Media, media_id)


async def deployment(session: AsyncSession, deployment_id: uuid.UUID) -> Deployment | None:
    return await session.get(Deployment, deployment_id)


async def frames_of(session: AsyncSession, media_id: uuid.UUID) -> list[Media]:
    query = sm_select(Media).where(Media.parent_media_id == media_id)
    return list((await session.exec(query)).all())


async def observations_of(
    session: AsyncSession, media_ids: Sequence[uuid.UUID]
) -> list[Observation]:
    query = sm_select(Observation).where(col(Observation.media_id).in_(media_ids))
    return list((await session.exec(query)).all())


async def model_runs_of(session: AsyncSession, media_ids: Sequence[uuid.UUID]) -> list[ModelRun]:
    query = sm_select(ModelRun).where(col(ModelRun.media_id).in_(media_ids))
    return list((await session.exec(query)).all())


async def deployment_media(
    session: AsyncSession, deployment_id: uuid.UUID, columns: Iterable[str]
) -> Sequence[Row[Any]]:
    """The deployment's media as rows of ``columns`` only, in capture order."""
    table = _table(Media)
    connection = await session.connection()
    query = (
        select(*(table.c[name] for name in columns))
        .where(table.c.deployment_id == deployment_id)
        .order_by(table.c.captured_at, table.c.id)
    )
    return (await connection.execute(query)).all()


async def deployment_observation_count(session: AsyncSession, deployment_id: uuid.UUID) -> int:
    """The deployment's observations: of its events and of its media."""
    media_of = sm_select(Media.id).where(Media.deployment_id == deployment_id)
    query = sm_select(func.count()).where(
        (col(Observation.deployment_id) == deployment_id) | col(Observation.media_id).in_(media_of)
    )
    return int((await session.exec(query)).one())


async def hashes_in_use(session: AsyncSession, hashes: Iterable[str]) -> set[str]:
    """Those of ``hashes`` that some medium (in any project) still has."""
    query = sm_select(Media.sha256).where(col(Media.sha256).in_(set(hashes)))
    return set((await session.exec(query)).all())


async def object_views(session: AsyncSession, media_id: uuid.UUID) -> list[dict[str, Any]]:
    """The further images of the object the medium is (none for other media)."""
    record = await session.get(ObjectRecord, media_id)
    return list(record.views) if record is not None else []


async def views_in_use(session: AsyncSession, hashes: Iterable[str]) -> set[str]:
    """Those of ``hashes`` that an object's further image (in any project) still has."""
    used: set[str] = set()
    for sha256 in set(hashes):
        # The views' JSON as text: one query per removed image, each rare.
        query = (
            sm_select(ObjectRecord.media_id)
            .where(cast(ObjectRecord.views, String).contains(sha256))
            .limit(1)
        )
        if (await session.exec(query)).first() is not None:
            used.add(sha256)
    return used


async def audit_page(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[AuditEntry], str | None]:
    """A page of the project's entries, newest first, and the cursor of the next page."""
    query = sm_select(AuditEntry).where(AuditEntry.project_id == project_id)
    return await page_by_keys(
        session,
        query,
        [
            SortKey(col(AuditEntry.at), parse_datetime, descending=True),
            SortKey(col(AuditEntry.id), descending=True),
        ],
        lambda entry: [entry.at, entry.id],
        page,
    )
