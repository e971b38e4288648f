"""Each project's taxonomy, read once and kept until ``taxonomy.changed`` names it.

Every replica hears ``taxonomy.changed`` (a broadcast) and drops what it names: one project's
entries, or everything when the shared tree changed. A read that was under way when the event
arrived is used for the batch that asked for it but not kept, so no stale answer outlives the
event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from wildlens.common.bundles import LabelSpec
from wildlens.inference.taxonomy.catalogue import TreeCache
from wildlens.inference.taxonomy.tree import ProjectTaxonomy

__all__ = ["TaxonomyCache", "TaxonomyReader"]


class TaxonomyReader(Protocol):
    tree: TreeCache

    async def fetch(
        self, project_id: str, model_name: str, labels: Sequence[LabelSpec]
    ) -> ProjectTaxonomy: ...


class TaxonomyCache:
    def __init__(self, reader: TaxonomyReader) -> None:
        self._reader = reader
        self._entries: dict[tuple[str, str], ProjectTaxonomy] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        # Bumped by every change; a read kept only if no change came while it ran.
        self._generation: dict[str, int] = {}
        self._tree_generation = 0

    def _stamp(self, project_id: str) -> tuple[int, int]:
        return self._tree_generation, self._generation.get(project_id, 0)

    async def get(
        self, project_id: str, model_name: str, labels: Sequence[LabelSpec]
    ) -> ProjectTaxonomy:
        key = (project_id, model_name)
        cached = self._entries.get(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._entries.get(key)
            if cached is not None:
                return cached
            stamp = self._stamp(project_id)
            taxonomy = await self._reader.fetch(project_id, model_name, labels)
            if self._stamp(project_id) == stamp:
                self._entries[key] = taxonomy
            return taxonomy

    def invalidate(self, project_id: str) -> None:
        """Forget one project's taxonomy, or (``""``) every project's and the tree."""
        if project_id:
            self._generation[project_id] = self._generation.get(project_id, 0) + 1
            for key in [k for k in self._entries if k[0] == project_id]:
                del self._entries[key]
            return
        self._tree_generation += 1
        self._entries.clear()
        self._reader.tree.clear()
