"""A round of work repeated in the background every few seconds, for as long as a service runs
(bringing derived rows up to date with what changed, say)."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod

import structlog

from wildlens.common.db import Database

__all__ = ["Periodic"]

log = structlog.get_logger(__name__)


class Periodic(ABC):
    """Runs :meth:`round` every ``interval_s`` seconds in the background; a round that fails
    is logged and the next one tries again."""

    #: Names the background task.
    name: str
    #: Logged when a round fails.
    failure: str

    def __init__(self, db: Database, interval_s: float = 2.0) -> None:
        self.db = db
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def round(self) -> None:
        """One round of the work."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(self.failure)
