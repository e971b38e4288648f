"""The catalogue's request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.http import context_dependency, session_dependency
from wildlens.common.service.context import ServiceContext

SERVICE = "catalogue"

SessionDep = Annotated[AsyncSession, Depends(session_dependency(SERVICE), scope="function")]
ContextDep = Annotated[ServiceContext, Depends(context_dependency(SERVICE))]
