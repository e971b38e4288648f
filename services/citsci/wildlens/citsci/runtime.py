"""What citsci keeps while it runs: the background sync with Zooniverse, where an account is
configured and the settings ask for it."""

from __future__ import annotations

from dataclasses import dataclass

from wildlens.citsci.settings import CitsciSettings
from wildlens.citsci.zooniverse.sync import ZooniverseSync
from wildlens.common.service import ServiceContext

__all__ = ["CitsciRuntime"]


@dataclass
class CitsciRuntime:
    zooniverse: ZooniverseSync | None

    @classmethod
    async def start(cls, ctx: ServiceContext) -> CitsciRuntime:
        account = CitsciSettings.of(ctx.settings).zooniverse
        sync = ZooniverseSync(ctx, account) if ZooniverseSync.wanted(account) else None
        if sync is not None:
            await sync.start()
        return cls(sync)

    async def close(self) -> None:
        if self.zooniverse is not None:
            await self.zooniverse.close()
