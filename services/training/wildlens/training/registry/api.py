"""The model registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.http import (
    ERROR_RESPONSES,
    Page,
    PageDep,
    PrincipalDep,
    session_dependency,
)
from wildlens.training.registry import service
from wildlens.training.registry.schemas import ModelKind, ModelPublic, ModelStage

router = APIRouter(prefix="/v1/models", tags=["models"], responses=ERROR_RESPONSES)
SessionDep = Annotated[AsyncSession, Depends(session_dependency("training"), scope="function")]


@router.get("", response_model=Page[ModelPublic])
async def list_models(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    stage: Annotated[
        ModelStage | None,
        Query(description="Only models in this stage (inference reads production at start-up)"),
    ] = None,
    kind: Annotated[ModelKind | None, Query()] = None,
) -> Page[ModelPublic]:
    """Registered models: global ones, and those of projects the caller belongs to."""
    principal.require_user()
    rows, next_cursor = await service.list_models(session, principal, page, stage=stage, kind=kind)
    return Page(items=[ModelPublic.model_validate(r) for r in rows], next_cursor=next_cursor)
