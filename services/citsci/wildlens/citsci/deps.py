"""The citsci routes' dependencies: each piece of the running service on its own, so that a
route names exactly what it uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.settings import CitsciSettings
from wildlens.common.db import Database
from wildlens.common.http import (
    bus_dependency,
    clients_dependency,
    database_dependency,
    session_dependency,
    settings_dependency,
    store_dependency,
)
from wildlens.common.service import ServiceBus
from wildlens.common.service.clients import ServiceClients
from wildlens.common.settings import Settings
from wildlens.common.storage import ObjectStore

__all__ = [
    "SERVICE",
    "BusDep",
    "CitsciSettingsDep",
    "ClientsDep",
    "DatabaseDep",
    "SessionDep",
    "StoreDep",
]

SERVICE = "citsci"

SessionDep = Annotated[AsyncSession, Depends(session_dependency(SERVICE), scope="function")]
# Sending to Zooniverse commits each medium's progress as it goes.
DatabaseDep = Annotated[Database, Depends(database_dependency(SERVICE))]
# Consensus goes out through the outbox, with the classification that retired the subject.
BusDep = Annotated[ServiceBus, Depends(bus_dependency(SERVICE))]
StoreDep = Annotated[ObjectStore, Depends(store_dependency(SERVICE))]
ClientsDep = Annotated[ServiceClients, Depends(clients_dependency(SERVICE))]
_SettingsDep = Annotated[Settings, Depends(settings_dependency(SERVICE))]


def _citsci_settings(settings: _SettingsDep) -> CitsciSettings:
    return CitsciSettings.of(settings)


CitsciSettingsDep = Annotated[CitsciSettings, Depends(_citsci_settings)]
