"""The ingest routes' dependencies: each piece of the running service on its own, so that a
route names exactly what it uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from wildlens.common.db import Database
from wildlens.common.http import (
    bus_dependency,
    clients_dependency,
    database_dependency,
    runtime_part_dependency,
    settings_dependency,
    store_dependency,
)
from wildlens.common.service import ServiceBus
from wildlens.common.service.clients import ServiceClients
from wildlens.common.settings import Settings
from wildlens.common.storage import ObjectStore
from wildlens.ingest.key_expiry import KeyExpiry
from wildlens.ingest.ratelimit import TokenBuckets
from wildlens.ingest.settings import IngestSettings

SERVICE = "ingest"

# Uploads run transactions of their own (one per upload, one per file of a bulk upload), so
# the routes take the database rather than a session per request.
DatabaseDep = Annotated[Database, Depends(database_dependency(SERVICE))]
StoreDep = Annotated[ObjectStore, Depends(store_dependency(SERVICE))]
BusDep = Annotated[ServiceBus, Depends(bus_dependency(SERVICE))]
SettingsDep = Annotated[Settings, Depends(settings_dependency(SERVICE))]
# The catalogue owns deployments and cameras: ingest asks it whether an upload's ids are the
# project's.
ClientsDep = Annotated[ServiceClients, Depends(clients_dependency(SERVICE))]


async def _ingest_settings(settings: SettingsDep) -> IngestSettings:
    # A coroutine: FastAPI would run a plain function in a worker thread.
    return IngestSettings.of(settings)


IngestSettingsDep = Annotated[IngestSettings, Depends(_ingest_settings)]
# Parts of the runtime (``runtime.IngestRuntime``), which lives above the domains: the upload
# rate limit's buckets and the schedule for purging expired idempotency keys.
RateLimitDep = Annotated[TokenBuckets, Depends(runtime_part_dependency(SERVICE, TokenBuckets))]
KeyExpiryDep = Annotated[KeyExpiry, Depends(runtime_part_dependency(SERVICE, KeyExpiry))]
