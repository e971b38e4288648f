"""Who sees which registered models: platform admins every one, others the global models and
those of the projects their token names."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal
from wildlens.common.http.pagination import PageParams
from wildlens.training.models import RegisteredModel
from wildlens.training.registry import repository
from wildlens.training.registry.schemas import ModelKind, ModelStage

__all__ = ["list_models", "visible_projects"]

# The token's key for a role held in every project; it names no project of its own.
_ALL_PROJECTS = "*"


def visible_projects(principal: Principal) -> list[uuid.UUID] | None:
    """The projects whose own models the caller sees; None when it sees every model."""
    if principal.is_platform_admin:
        return None
    return [uuid.UUID(p) for p in principal.roles if p != _ALL_PROJECTS]


async def list_models(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    stage: ModelStage | None,
    kind: ModelKind | None,
) -> tuple[list[RegisteredModel], str | None]:
    """One page of the models the caller may see and the cursor of the next."""
    return await repository.page_models(
        session,
        page,
        stage=stage,
        kind=kind,
        projects=visible_projects(principal),
    )
