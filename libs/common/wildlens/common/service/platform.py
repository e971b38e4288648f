"""Running one or several services in one process: ``wildlens serve`` runs one, ``wildlens up``
runs all of them on the embedded backends."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

import structlog

from wildlens.common.auth import RevocationList, TokenIssuer, load_keyring
from wildlens.common.bus import Bus, create_bus
from wildlens.common.db import (
    OutboxRelay,
    create_database,
    outbox_table,
    processed_events_table,
)
from wildlens.common.db.migrations import upgrade
from wildlens.common.service.clients import ServiceClients
from wildlens.common.service.context import ServiceContext, instance_name
from wildlens.common.service.spec import ServiceSpec
from wildlens.common.settings import Settings, with_groups
from wildlens.common.storage import ObjectStore, create_store

__all__ = ["Platform", "attach_tables"]

log = structlog.get_logger(__name__)


def attach_tables(spec: ServiceSpec) -> None:
    """Add the shared infrastructure tables (outbox, processed events) to a service's metadata.

    Services call this when they define their metadata, so that migrations include them.
    """
    if spec.metadata is None:
        return
    if "processed_events" not in spec.metadata.tables:
        processed_events_table(spec.metadata)
    if spec.uses_outbox and "outbox" not in spec.metadata.tables:
        outbox_table(spec.metadata)


def signing_secret(settings: Settings) -> bytes:
    """Key for signed object routes (embedded mode): configured, or generated once in the data
    directory so that every process on the same data agrees."""
    if settings.storage.signing_key is not None:
        return settings.storage.signing_key.get_secret_value().encode()
    path = settings.data_dir / "keys" / "object-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        os.replace(tmp, path)
    return path.read_bytes()


class Platform:
    """The services of one process and the backends they share."""

    def __init__(self, settings: Settings, specs: list[ServiceSpec]) -> None:
        if not specs:
            raise ValueError("no services to run")
        # Each service reads its own group: settings built without one get it here.
        settings = with_groups(settings, (g for s in specs for g in s.setting_groups))
        self.settings = settings
        self.specs = specs
        self.instance = instance_name()
        self.keys = load_keyring(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.bus: Bus = create_bus(
            settings.broker_url, settings.broker, data_dir=settings.data_dir, instance=self.instance
        )
        self.store: ObjectStore = create_store(
            settings.storage_url_resolved(),
            settings.storage,
            public_url=settings.public_url,
            signing_key=signing_secret(settings),
        )
        # The ASGI app serving these services, set by ``create_app``: calls between services of
        # one process go straight to it.
        self.app: Any = None
        self.revocations = RevocationList()
        self.contexts: dict[str, ServiceContext] = {}
        issuer = TokenIssuer(self.keys, settings.auth.issuer) if self.keys.can_sign else None
        for spec in specs:
            attach_tables(spec)
            ctx = ServiceContext(
                spec=spec,
                settings=settings,
                bus=self.bus,
                store=self.store,
                keys=self.keys,
                instance=self.instance,
                issuer=issuer,
                revocations=self.revocations,
                clients=ServiceClients(
                    spec.name, settings, issuer=issuer, local_app=self._local_app
                ),
            )
            if spec.metadata is not None:
                ctx.db = create_database(settings, spec.name)
                ctx.processed_table = spec.metadata.tables["processed_events"]
                if spec.uses_outbox:
                    ctx.outbox_table = spec.metadata.tables["outbox"]
                    ctx.relay = OutboxRelay(
                        ctx.db,
                        ctx.outbox_table,
                        self.bus,
                        linger=settings.broker.outbox_linger_ms / 1000,
                    )
            self.contexts[spec.name] = ctx
        self._started: list[ServiceContext] = []

    def _local_app(self, service: str) -> Any:
        return self.app if service in self.contexts else None

    async def migrate(self) -> None:
        for ctx in self.contexts.values():
            if ctx.db is not None and ctx.spec.migrations is not None:
                await upgrade(ctx.db, Path(ctx.spec.migrations))

    async def start(self, *, migrate: bool = True) -> None:
        """Start the backends and the services, in order; where a step fails, what had
        started is stopped again before the error goes up (a service's start hook closes
        what it had itself started; only the services whose hook returned are stopped)."""
        try:
            await self.store.start()
            if migrate:
                await self.migrate()
            for ctx in self.contexts.values():
                if ctx.spec.start is not None:
                    await ctx.spec.start(ctx)
                self._started.append(ctx)
            await self.bus.start()
            for ctx in self.contexts.values():
                if ctx.relay is not None:
                    await ctx.relay.start()
        except BaseException:
            await self.stop()
            raise
        log.info("platform.started", services=[s.name for s in self.specs], instance=self.instance)

    async def stop(self) -> None:
        # Outbox relays flush before the bus closes; consumers stop before databases go.
        for ctx in self.contexts.values():
            if ctx.relay is not None:
                with contextlib.suppress(Exception):
                    await ctx.relay.close()
        with contextlib.suppress(Exception):
            await self.bus.close()
        for ctx in reversed(self._started):
            if ctx.spec.stop is not None:
                try:
                    await ctx.spec.stop(ctx)
                except Exception as exc:
                    log.warning("service.stop_failed", service=ctx.name, error=str(exc))
        self._started.clear()
        for ctx in self.contexts.values():
            if ctx.clients is not None:
                with contextlib.suppress(Exception):
                    await ctx.clients.aclose()
            if ctx.db is not None:
                await ctx.db.dispose()
        with contextlib.suppress(Exception):
            await self.store.close()
        log.info("platform.stopped", instance=self.instance)
