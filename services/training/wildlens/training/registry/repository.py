"""Queries on the model registry."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db.pagination import page_by_id
from wildlens.common.http.pagination import PageParams
from wildlens.training.models import RegisteredModel

__all__ = ["page_models"]


async def page_models(
    session: AsyncSession,
    page: PageParams,
    *,
    stage: str | None,
    kind: str | None,
    projects: Collection[uuid.UUID] | None,
) -> tuple[list[RegisteredModel], str | None]:
    """One page of registered models by id, of ``stage`` and ``kind`` where given.

    ``projects``: only global models and those of these projects; None for every model.
    """
    query = select(RegisteredModel)
    if stage is not None:
        query = query.where(RegisteredModel.stage == stage)
    if kind is not None:
        query = query.where(RegisteredModel.kind == kind)
    if projects is not None:
        query = query.where(
            col(RegisteredModel.project_id).is_(None)
            | col(RegisteredModel.project_id).in_(list(projects))
        )
    return await page_by_id(session, query, col(RegisteredModel.id), page)
