"""When a worker replica sweeps: every ``orphan_sweep_interval_s``, first after a random part
of it, so that replicas started together do not list the store together. Replicas sweep
independently; a sweep twice as often changes nothing but the cost."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from wildlens.common.db import Database
from wildlens.common.storage import ObjectStore
from wildlens.ingest.sweep.service import sweep_orphans

__all__ = ["OrphanSweeper"]

log = structlog.get_logger(__name__)


@dataclass
class OrphanSweeper:
    database: Database
    store: ObjectStore
    every_s: float
    grace: timedelta
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def start(self) -> None:
        if self.every_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="ingest-orphan-sweep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = random.uniform(0, self.every_s)  # spreading replicas, not secrecy
        while True:
            await asyncio.sleep(delay)
            delay = self.every_s
            try:
                await sweep_orphans(self.database, self.store, grace=self.grace)
            except Exception as exc:
                # The next sweep finds whatever this one left; a store or database that does
                # not answer now is no reason to stop sweeping.
                log.warning("sweep.failed", error=f"{type(exc).__name__}: {exc}")
