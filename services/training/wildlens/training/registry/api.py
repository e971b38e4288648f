"""The model registry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db.pagination import page_by_id
from wildlens.common.http import (
    ERROR_RESPONSES,
    Page,
    PrincipalDep,
    session_dependency,
)
from wildlens.training.registry.models import RegisteredModel

router = APIRouter(prefix="/v1/models", tags=["models"], responses=ERROR_RESPONSES)
SessionDep = Annotated[AsyncSession, Depends(session_dependency("training"), scope="function")]


class ModelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    version: str
    kind: str
    sha256: str
    bundle_key: str
    stage: str
    project_id: uuid.UUID | None
    metrics: dict[str, Any]
    created_at: datetime


@router.get("", response_model=Page[ModelPublic])
async def list_models(
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
    stage: Annotated[
        Literal["candidate", "production", "archived"] | None,
        Query(description="Only models in this stage (inference reads production at start-up)"),
    ] = None,
    kind: Annotated[Literal["detector", "classifier"] | None, Query()] = None,
) -> Page[ModelPublic]:
    """Registered models: global ones, and those of projects the caller belongs to."""
    principal.require_user()
    query = select(RegisteredModel)
    if stage is not None:
        query = query.where(RegisteredModel.stage == stage)
    if kind is not None:
        query = query.where(RegisteredModel.kind == kind)
    if not principal.is_platform_admin:
        visible = [uuid.UUID(p) for p in principal.roles if p != "*"]
        query = query.where(
            col(RegisteredModel.project_id).is_(None) | col(RegisteredModel.project_id).in_(visible)
        )
    rows, next_cursor = await page_by_id(
        session, query, col(RegisteredModel.id), limit=limit, cursor=cursor
    )
    return Page(items=[ModelPublic.model_validate(r) for r in rows], next_cursor=next_cursor)
