"""The catalogue's request dependencies: each piece of its running context on its own, so that
a route names exactly what it uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import ExternalVerifier, TokenIssuer
from wildlens.common.db import Database
from wildlens.common.http import (
    bus_dependency,
    database_dependency,
    issuer_dependency,
    runtime_part_dependency,
    session_dependency,
    settings_dependency,
    store_dependency,
)
from wildlens.common.service import ServiceBus
from wildlens.common.settings import Settings
from wildlens.common.storage import ObjectStore

SERVICE = "catalogue"

SessionDep = Annotated[AsyncSession, Depends(session_dependency(SERVICE), scope="function")]
DatabaseDep = Annotated[Database, Depends(database_dependency(SERVICE))]
StoreDep = Annotated[ObjectStore, Depends(store_dependency(SERVICE))]
BusDep = Annotated[ServiceBus, Depends(bus_dependency(SERVICE))]
SettingsDep = Annotated[Settings, Depends(settings_dependency(SERVICE))]
IssuerDep = Annotated[TokenIssuer | None, Depends(issuer_dependency(SERVICE))]
# The runtime's (``runtime.CatalogueRuntime``), which lives above the domains.
VerifierDep = Annotated[
    ExternalVerifier, Depends(runtime_part_dependency(SERVICE, ExternalVerifier))
]
