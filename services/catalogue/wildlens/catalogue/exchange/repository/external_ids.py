"""Finding a project's existing rows by the ids an imported file gave them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["CHUNK", "by_external_id", "by_external_id_at_once", "by_platform_id"]

# Values per IN list: well inside every database's limit on bound parameters.
CHUNK = 500


async def by_external_id(
    session: AsyncSession, model: Any, project_id: uuid.UUID, ids: Iterable[str]
) -> dict[str, Any]:
    """``model`` rows of the project whose ``external_id`` is one of ``ids``, by that id."""
    wanted = sorted(set(ids))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = await session.exec(
            select(model).where(
                model.project_id == project_id,
                col(model.external_id).in_(wanted[start : start + CHUNK]),
            )
        )
        found.update((row.external_id, row) for row in rows)
    return found


async def by_external_id_at_once(
    session: AsyncSession, model: Any, project_id: uuid.UUID, ids: set[str]
) -> dict[str, Any]:
    """As :func:`by_external_id`, in one statement with a single IN list; none when ``ids`` is
    empty."""
    if not ids:
        return {}
    found = await session.exec(
        select(model).where(model.project_id == project_id, col(model.external_id).in_(ids))
    )
    return {row.external_id: row for row in found}


async def by_platform_id(
    session: AsyncSession, model: Any, project_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """``model`` rows of the project whose own id is one of ``ids`` (a file the platform
    exported names its rows so)."""
    wanted = sorted(set(ids))
    found: dict[uuid.UUID, Any] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = await session.exec(
            select(model).where(
                model.project_id == project_id, col(model.id).in_(wanted[start : start + CHUNK])
            )
        )
        found.update((row.id, row) for row in rows)
    return found
