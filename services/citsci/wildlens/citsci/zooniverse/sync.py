"""Zooniverse kept in step in the background, where the settings ask for it: each set's
latest classification export pulled every ``pull_interval_s`` (as a manager's pull does,
subjects with people the project now hides withdrawn first),
and retirements Zooniverse refused or missed told again every ``retire_retry_s``."""

from __future__ import annotations

import time

import httpx
import structlog

from wildlens.citsci.settings import ZooniverseSettings
from wildlens.citsci.volunteers.catalogue import project_taxon_names
from wildlens.citsci.zooniverse import repository, service
from wildlens.citsci.zooniverse.answers import taxon_names
from wildlens.citsci.zooniverse.gateway import Zooniverse
from wildlens.citsci.zooniverse.people import withdraw_hidden_people
from wildlens.citsci.zooniverse.retirement import retire_pending
from wildlens.common.errors import WildlensError
from wildlens.common.jobs.periodic import Periodic
from wildlens.common.service import ServiceContext

__all__ = ["ZooniverseSync"]

log = structlog.get_logger(__name__)


class ZooniverseSync(Periodic):
    name = "zooniverse-sync"
    failure = "zooniverse sync failed"

    def __init__(self, ctx: ServiceContext, account: ZooniverseSettings) -> None:
        wanted = [s for s in (account.pull_interval_s, account.retire_retry_s) if s > 0]
        super().__init__(ctx.database, min(wanted) if wanted else 3600.0)
        self._ctx = ctx
        self._account = account
        self._pulled = self._retried = time.monotonic()

    @staticmethod
    def wanted(account: ZooniverseSettings) -> bool:
        return account.configured and (account.pull_interval_s > 0 or account.retire_retry_s > 0)

    def _catalogue(self) -> httpx.AsyncClient:
        return self._ctx.client("catalogue")

    def _due(self, last: float, every: float) -> bool:
        return every > 0 and time.monotonic() - last >= every

    async def round(self) -> None:
        zooniverse = Zooniverse(self._account)
        if self._due(self._pulled, self._account.pull_interval_s):
            self._pulled = time.monotonic()
            await self._pull_all(zooniverse)
        if self._due(self._retried, self._account.retire_retry_s):
            self._retried = time.monotonic()
            await retire_pending(self.db, zooniverse)

    async def _pull_all(self, zooniverse: Zooniverse) -> None:
        async with self.db.transaction() as session:
            sets = await repository.zooniverse_sets(session)
        for s in sets:
            # One set's unreadable export or refused call leaves the others to be pulled.
            try:
                names = await project_taxon_names(
                    lambda: self._ctx.client("catalogue"), s.project_id
                )
                await withdraw_hidden_people(self.db, self._catalogue, s.project_id, zooniverse)
                await service.pull(
                    self.db,
                    self._ctx.service_bus,
                    zooniverse,
                    s.id,
                    taxon_names(names),
                    generate=False,
                )
            except WildlensError as e:  # ZooniverseError among them
                log.warning("zooniverse.pull_failed", subject_set=str(s.id), error=str(e))
            except Exception:
                # A fault of ours in one set must not stop the others' pulls or the
                # retirements that follow them.
                log.exception("zooniverse.pull_crashed", subject_set=str(s.id))
