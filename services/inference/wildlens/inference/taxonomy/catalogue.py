"""Reading a project's taxonomy from the catalogue's API, with a service token.

Routes: ``GET /v1/projects/{id}/label-maps/{model}`` (the project's label map),
``GET /v1/projects/{id}/taxa`` (its taxa list), ``GET /v1/taxa?q=`` (a bundle's scientific
name in the tree) and ``GET /v1/taxa/{id}`` (a taxon with its ancestors). The tree is shared by
every project, so what is learnt of it is kept across projects until the tree changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx

from wildlens.common.bundles import LabelSpec
from wildlens.common.errors import Unavailable
from wildlens.inference.taxonomy.tree import ProjectTaxonomy, TaxonNode, name_key

__all__ = ["CatalogueTaxonomy", "TreeCache"]

# Lookups in flight at once when a classifier's names are first resolved.
CONCURRENCY = 8


def _node(item: dict[str, Any]) -> TaxonNode:
    parent = item.get("parent_id")
    return TaxonNode(
        id=str(item["id"]),
        scientific_name=str(item["scientific_name"]),
        rank=str(item["rank"]),
        parent_id=str(parent) if parent else None,
    )


class TreeCache:
    """What is known of the global taxon tree: taxa by id with their ancestors, and which
    scientific names it holds (or lacks). Cleared whole when the tree changes."""

    def __init__(self) -> None:
        self.nodes: dict[str, TaxonNode] = {}
        self.names: dict[str, str | None] = {}

    def clear(self) -> None:
        self.nodes.clear()
        self.names.clear()

    def complete(self, taxon_id: str) -> bool:
        """Whether the taxon and its whole lineage are known."""
        current: str | None = taxon_id
        while current is not None:
            node = self.nodes.get(current)
            if node is None:
                return False
            current = node.parent_id
        return True


class CatalogueTaxonomy:
    """Reads a project's taxonomy through ``client()``, a service client for the catalogue
    (asked for on first use, so a replica starts before it can reach the catalogue)."""

    def __init__(
        self, client: Callable[[], httpx.AsyncClient], tree: TreeCache | None = None
    ) -> None:
        self._client = client
        self.tree = tree or TreeCache()
        self._limit = asyncio.Semaphore(CONCURRENCY)

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        async with self._limit:
            try:
                response = await self._client().get(path, params=params)
            except httpx.HTTPError as exc:
                raise Unavailable(f"the catalogue does not answer {path}: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable(
                f"the catalogue answered {response.status_code} to {path}: {response.text[:300]}"
            )
        return response.json()

    async def fetch(
        self, project_id: str, model_name: str, labels: Sequence[LabelSpec]
    ) -> ProjectTaxonomy:
        """The project's taxonomy for one classifier; a project the catalogue does not know
        (deleted since) has none."""
        label_map = await self._get(f"/v1/projects/{project_id}/label-maps/{model_name}")
        taxa = await self._get(f"/v1/projects/{project_id}/taxa")
        mapped = {str(e["label"]): str(e["taxon_id"]) for e in (label_map or {}).get("entries", [])}
        allowed = [_node(t) for t in (taxa or {}).get("taxa", [])]
        for node in allowed:
            self.tree.nodes.setdefault(node.id, node)
        names = await self._names(
            s.scientific_name for s in labels if s.scientific_name and s.label not in mapped
        )
        await self._lineages([*mapped.values(), *names.values(), *(n.id for n in allowed)])
        return ProjectTaxonomy(
            nodes=dict(self.tree.nodes),
            label_map=mapped,
            names=names,
            allowed=frozenset(n.id for n in allowed),
        )

    async def _names(self, scientific_names: Iterable[str]) -> dict[str, str]:
        wanted = {name_key(n): n for n in scientific_names}
        unknown = [key for key in wanted if key not in self.tree.names]

        async def look_up(key: str) -> None:
            page = await self._get("/v1/taxa", {"q": wanted[key], "limit": 100})
            items = [
                t
                for t in (page or {}).get("items", [])
                if name_key(str(t["scientific_name"])) == key
            ]
            # The accepted name first where a name occurs twice (a synonym beside it).
            items.sort(key=lambda t: t.get("taxonomic_status", "accepted") != "accepted")
            found = [_node(t) for t in items]
            self.tree.names[key] = found[0].id if found else None
            for node in found:
                self.tree.nodes.setdefault(node.id, node)

        await asyncio.gather(*(look_up(key) for key in unknown))
        return {key: taxon for key in wanted if (taxon := self.tree.names.get(key)) is not None}

    async def _lineages(self, taxon_ids: Iterable[str]) -> None:
        missing = sorted({t for t in taxon_ids if not self.tree.complete(t)})

        async def look_up(taxon_id: str) -> None:
            detail = await self._get(f"/v1/taxa/{taxon_id}")
            if detail is None:
                return
            self.tree.nodes[taxon_id] = _node(detail)
            for ancestor in detail.get("ancestors", []):
                node = _node(ancestor)
                self.tree.nodes[node.id] = node

        await asyncio.gather(*(look_up(t) for t in missing))
