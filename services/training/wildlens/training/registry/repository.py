"""Queries on the model registry."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db.pagination import page_by_id
from wildlens.common.http.pagination import PageParams
from wildlens.training.models import ModelStageChange, RegisteredModel

__all__ = [
    "by_name_version",
    "get",
    "history",
    "page_models",
    "previous_production",
    "serving",
]


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


async def get(session: AsyncSession, model_id: uuid.UUID) -> RegisteredModel | None:
    return await session.get(RegisteredModel, model_id)


async def by_name_version(session: AsyncSession, name: str, version: str) -> RegisteredModel | None:
    query = select(RegisteredModel).where(
        RegisteredModel.name == name, RegisteredModel.version == version
    )
    return (await session.exec(query)).first()


async def serving(
    session: AsyncSession, kind: str, project_id: uuid.UUID | None
) -> list[RegisteredModel]:
    """The models in production for ``kind`` in one scope (global when ``project_id`` is None)."""
    scope = (
        col(RegisteredModel.project_id).is_(None)
        if project_id is None
        else RegisteredModel.project_id == project_id
    )
    query = select(RegisteredModel).where(
        RegisteredModel.kind == kind, RegisteredModel.stage == "production", scope
    )
    return list((await session.exec(query)).all())


async def history(session: AsyncSession, model_id: uuid.UUID) -> list[ModelStageChange]:
    query = (
        select(ModelStageChange)
        .where(ModelStageChange.model_id == model_id)
        .order_by(col(ModelStageChange.changed_at), col(ModelStageChange.id))
    )
    return list((await session.exec(query)).all())


def _same_scope(project_id: uuid.UUID | None) -> Any:
    return (
        col(RegisteredModel.project_id).is_(None)
        if project_id is None
        else RegisteredModel.project_id == project_id
    )


async def previous_production(
    session: AsyncSession, model: RegisteredModel
) -> RegisteredModel | None:
    """The model that was in production for ``model``'s kind in its scope just before
    ``model`` last went there (from the stage history); None if none was."""
    since = (
        select(func.max(ModelStageChange.changed_at))
        .where(ModelStageChange.model_id == model.id, ModelStageChange.to_stage == "production")
        .scalar_subquery()
    )
    query = (
        select(RegisteredModel)
        .join(ModelStageChange, col(ModelStageChange.model_id) == col(RegisteredModel.id))
        .where(
            RegisteredModel.kind == model.kind,
            _same_scope(model.project_id),
            RegisteredModel.id != model.id,
            ModelStageChange.to_stage == "production",
            col(ModelStageChange.changed_at) <= since,
        )
        .order_by(col(ModelStageChange.changed_at).desc(), col(ModelStageChange.id).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()
