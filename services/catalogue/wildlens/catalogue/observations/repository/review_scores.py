"""The statements that bring a project's review score parts up to date.

A refresh takes the project's notes of changed media from ``review_score_changes``, deletes
the score rows of those media and computes them afresh (``review_order.score_rows``), or the
whole project's at once; ``review_scores`` decides which, and when.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, Select, Table, Uuid, any_, bindparam, delete, func, insert, text
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncConnection

from wildlens.catalogue.models import ReviewScore, ReviewScoreChange
from wildlens.catalogue.observations.repository.review_order import SCORE_COLUMNS, score_rows
from wildlens.common.db import transaction_lock

__all__ = [
    "analyze",
    "changed_projects",
    "changes_up_to",
    "has_changes",
    "lock_refreshes",
    "plan_for_refresh",
    "recompute_media",
    "recompute_project",
    "scored",
    "scored_up_to",
    "take_changes",
    "whole_project_noted",
]

_SCORES: Table = ReviewScore.__table__  # type: ignore[attr-defined]
_CHANGES: Table = ReviewScoreChange.__table__  # type: ignore[attr-defined]
# Media per statement: a consumer's batches at once; SQLite, which takes them as one
# parameter each, fewer.
MEDIA_PER_STATEMENT = 2000
MEDIA_IN_LIST = 500
# Not the statistics' refresh lock of the same project (its key is the id's first half).
_LOCK_SALT = 0x5245_5649_4557  # "REVIEW"


async def has_changes(connection: AsyncConnection, project_id: uuid.UUID) -> bool:
    """Whether any medium of the project awaits a refresh of its score parts."""
    return await changes_up_to(connection, project_id, 1) > 0


async def _count_up_to(connection: AsyncConnection, rows: Select[Any], most: int) -> int:
    counted = await connection.execute(
        select_columns(func.count()).select_from(rows.limit(most).subquery())
    )
    return int(counted.scalar_one())


async def changes_up_to(connection: AsyncConnection, project_id: uuid.UUID, most: int) -> int:
    """How many notes of the project await a refresh, counted no further than ``most``."""
    noted = select_columns(_CHANGES.c.id).where(_CHANGES.c.project_id == project_id)
    return await _count_up_to(connection, noted, most)


async def scored_up_to(connection: AsyncConnection, project_id: uuid.UUID, most: int) -> int:
    """How many score rows the project has, counted no further than ``most``."""
    rows = select_columns(_SCORES.c.media_id).where(_SCORES.c.project_id == project_id)
    return await _count_up_to(connection, rows, most)


async def whole_project_noted(connection: AsyncConnection, project_id: uuid.UUID) -> bool:
    """Whether every medium of the project awaits a refresh (a note without a medium)."""
    pending = await connection.execute(
        select_columns(_CHANGES.c.id)
        .where(_CHANGES.c.project_id == project_id, _CHANGES.c.media_id.is_(None))
        .limit(1)
    )
    return pending.first() is not None


async def take_changes(connection: AsyncConnection, project_id: uuid.UUID) -> set[uuid.UUID | None]:
    """The project's changed media (None: all of them), their notes deleted."""
    taken = await connection.execute(
        delete(_CHANGES).where(_CHANGES.c.project_id == project_id).returning(_CHANGES.c.media_id)
    )
    return {m for (m,) in taken.all()}


async def changed_projects(connection: AsyncConnection) -> list[uuid.UUID]:
    """The projects with media awaiting a refresh."""
    rows = await connection.execute(select_columns(_CHANGES.c.project_id).distinct())
    return [r for (r,) in rows.all()]


async def lock_refreshes(connection: AsyncConnection, project_id: uuid.UUID, *, wait: bool) -> bool:
    """This transaction's hold on refreshing the project's score parts."""
    key = int.from_bytes(project_id.bytes[8:], "big", signed=True) ^ _LOCK_SALT
    return await transaction_lock(connection, key, wait=wait)


async def scored(connection: AsyncConnection, project_id: uuid.UUID) -> int:
    """How many score rows the project has now."""
    counted = await connection.execute(
        select_columns(func.count()).select_from(_SCORES).where(_SCORES.c.project_id == project_id)
    )
    return int(counted.scalar_one())


async def analyze(connection: AsyncConnection) -> None:
    """Fresh planner statistics before a whole project is computed (PostgreSQL): it often
    follows a bulk load autovacuum has not seen yet."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("ANALYZE media, observations"))


async def plan_for_refresh(connection: AsyncConnection) -> None:
    """No JIT compilation for this transaction's statements (PostgreSQL): a few hundred
    media cost enough for PostgreSQL to compile their statement, which takes longer than
    running it."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL jit = off"))


async def recompute_project(connection: AsyncConnection, project_id: uuid.UUID) -> None:
    """Replace all of the project's score rows with fresh ones."""
    arrays = connection.dialect.name == "postgresql"
    await connection.execute(delete(_SCORES).where(_SCORES.c.project_id == project_id))
    await connection.execute(
        insert(_SCORES).from_select(SCORE_COLUMNS, score_rows(project_id, None, arrays=arrays))
    )


async def recompute_media(
    connection: AsyncConnection, project_id: uuid.UUID, media_ids: Sequence[uuid.UUID]
) -> None:
    """Replace the score rows of these media of the project with fresh ones (none for a
    medium judged, deleted or moved away)."""
    arrays = connection.dialect.name == "postgresql"
    per = MEDIA_PER_STATEMENT if arrays else MEDIA_IN_LIST
    for i in range(0, len(media_ids), per):
        part = list(media_ids[i : i + per])
        named = (
            _SCORES.c.media_id == any_(bindparam("media_ids", part, type_=ARRAY(Uuid())))
            if arrays
            else _SCORES.c.media_id.in_(part)
        )
        await connection.execute(delete(_SCORES).where(_SCORES.c.project_id == project_id, named))
        await connection.execute(
            insert(_SCORES).from_select(SCORE_COLUMNS, score_rows(project_id, part, arrays=arrays))
        )
