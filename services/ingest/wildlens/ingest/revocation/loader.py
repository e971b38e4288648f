"""Loading the revocations in force from the catalogue's API.

A replica loads them at start-up, retrying with backoff while the catalogue does not answer,
and then again now and then: a broadcast queue exists only while its connection does, so a
revocation sent while a replica was reconnecting to the broker, or in the moment between the
start-up load and the queue being declared, would otherwise be missed for good.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import structlog

from wildlens.common.auth import RevocationList
from wildlens.common.errors import Unavailable
from wildlens.common.service.clients import ServiceNotConfigured

__all__ = ["RevocationLoader"]

log = structlog.get_logger(__name__)

PAGE = 1000


class RevocationLoader:
    """Args:
    client: returns the authenticated client for the catalogue.
    revocations: the list this process's requests are checked against.
    first_retry_s, max_retry_s: backoff while the catalogue does not answer.
    resync_after_s: the first reload after a successful load (closes the gap before the
        broadcast queue exists); resync_every_s: the later ones.
    """

    def __init__(
        self,
        client: Callable[[], httpx.AsyncClient],
        revocations: RevocationList,
        *,
        first_retry_s: float = 0.5,
        max_retry_s: float = 30.0,
        resync_after_s: float = 15.0,
        resync_every_s: float = 300.0,
    ) -> None:
        self._client = client
        self._revocations = revocations
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        self._resync_after_s = resync_after_s
        self._resync_every_s = resync_every_s
        self.loaded_at: float | None = None
        self.last_error: str | None = None
        self.attempts = 0
        self._loads = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> bool:
        return self.loaded_at is not None

    async def load(self) -> int:
        """Fetch every revocation in force into the list; returns how many there were."""
        self.attempts += 1
        client = self._client()
        count, cursor = 0, None
        while True:
            params: dict[str, Any] = {"limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            try:
                response = await client.get("/v1/auth/revocations", params=params)
            except httpx.HTTPError as exc:
                raise Unavailable(f"the catalogue does not answer: {exc}") from exc
            if response.status_code != 200:
                raise Unavailable(
                    f"the catalogue answered {response.status_code}: {response.text[:300]}"
                )
            page = response.json()
            for item in page["items"]:
                self._revocations.add(
                    str(item["token_id"]), datetime.fromisoformat(str(item["expires_at"]))
                )
                count += 1
            cursor = page.get("next_cursor")
            if not cursor:
                break
        self.loaded_at, self.last_error = time.time(), None
        self._loads += 1
        log.info("ingest.revocations_loaded", count=count, in_force=len(self._revocations))
        return count

    async def try_load(self) -> bool:
        """One attempt; failures are recorded, not raised."""
        try:
            await self.load()
        except ServiceNotConfigured:
            raise
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("ingest.revocations_load_failed", error=self.last_error)
            return False
        return True

    def start(self) -> None:
        """Keep loading in the background: until it works, then now and then."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ingest-revocations")

    async def _run(self) -> None:
        retry = self._first_retry_s
        delay = self._resync_after_s if self.loaded else retry
        while True:
            await asyncio.sleep(delay)
            try:
                ok = await self.try_load()
            except ServiceNotConfigured as exc:
                # Configuration, not an outage: retrying cannot help.
                self.last_error = exc.detail
                log.error("ingest.revocations_unavailable", error=exc.detail)
                return
            if ok:
                retry = self._first_retry_s
                delay = self._resync_after_s if self._loads == 1 else self._resync_every_s
            else:
                delay, retry = retry, min(self._max_retry_s, retry * 2)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def status(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "in_force": len(self._revocations),
            "attempts": self.attempts,
            "last_error": self.last_error,
        }
