"""The training routes' dependencies: each piece of the running service on its own, so that a
route names exactly what it uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db import Database
from wildlens.common.http import (
    bus_dependency,
    database_dependency,
    session_dependency,
    settings_dependency,
    store_dependency,
)
from wildlens.common.service import ServiceBus
from wildlens.common.settings import Settings
from wildlens.common.storage import ObjectStore
from wildlens.training.settings import TrainingSettings

__all__ = ["BusDep", "DatabaseDep", "SessionDep", "StoreDep", "TrainingSettingsDep"]

SERVICE = "training"

SessionDep = Annotated[AsyncSession, Depends(session_dependency(SERVICE), scope="function")]
# A registration runs its own transaction, so that its stored files go when it does not commit.
DatabaseDep = Annotated[Database, Depends(database_dependency(SERVICE))]
StoreDep = Annotated[ObjectStore, Depends(store_dependency(SERVICE))]
BusDep = Annotated[ServiceBus, Depends(bus_dependency(SERVICE))]
_SettingsDep = Annotated[Settings, Depends(settings_dependency(SERVICE))]


def _training_settings(settings: _SettingsDep) -> TrainingSettings:
    return TrainingSettings.of(settings)


TrainingSettingsDep = Annotated[TrainingSettings, Depends(_training_settings)]
