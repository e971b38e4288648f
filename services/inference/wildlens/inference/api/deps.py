"""The inference routes' dependencies: each piece of the running service on its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from wildlens.common.http import (
    bus_dependency,
    clients_dependency,
    runtime_dependency,
    settings_dependency,
    store_dependency,
)
from wildlens.common.service import ServiceBus
from wildlens.common.service.clients import ServiceClients
from wildlens.common.settings import Settings
from wildlens.common.storage import ObjectStore
from wildlens.inference.runtime import InferenceRuntime

SERVICE = "inference"

InferenceRuntimeDep = Annotated[
    InferenceRuntime, Depends(runtime_dependency(SERVICE, InferenceRuntime))
]
ClientsDep = Annotated[ServiceClients, Depends(clients_dependency(SERVICE))]
StoreDep = Annotated[ObjectStore, Depends(store_dependency(SERVICE))]
BusDep = Annotated[ServiceBus, Depends(bus_dependency(SERVICE))]
SettingsDep = Annotated[Settings, Depends(settings_dependency(SERVICE))]
