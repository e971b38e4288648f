"""Names resolved by a checklist service land in the tree like an import (a fake resolver
stands in for GBIF, which these machines cannot reach)."""

from __future__ import annotations

from sqlmodel import select

from tests.catalogue.test_taxa_tree import db  # noqa: F401  (fixture)
from wildlens.catalogue.models import Taxon
from wildlens.catalogue.taxa.repository import descendants
from wildlens.catalogue.taxa.resolution import LineageItem, NameResolver, store_lineage
from wildlens.common.db import Database


class FakeBackbone:
    async def resolve(self, name: str) -> list[LineageItem] | None:
        if name != "Vulpes vulpes":
            return None
        return [
            LineageItem(1, "kingdom", "Animalia"),
            LineageItem(359, "class", "Mammalia"),
            LineageItem(9701, "family", "Canidae"),
            LineageItem(5219234, "genus", "Vulpes"),
            LineageItem(5219243, "species", "Vulpes vulpes", {"en": "Red fox"}),
        ]


async def test_a_resolved_lineage_is_upserted_by_gbif_key(db: Database) -> None:  # noqa: F811
    resolver: NameResolver = FakeBackbone()
    lineage = await resolver.resolve("Vulpes vulpes")
    assert lineage is not None
    async with db.transaction() as session:
        fox, report = await store_lineage(session, lineage)
    assert (report.created, fox.scientific_name, fox.gbif_id) == (5, "Vulpes vulpes", 5219243)
    async with db.transaction() as session:
        again, report = await store_lineage(session, lineage)
        canidae = (
            await session.exec(select(Taxon).where(Taxon.scientific_name == "Canidae"))
        ).one()
        below = await descendants(session, canidae.id)
    assert (again.id, report.created, report.unchanged) == (fox.id, 0, 5)
    assert below == {canidae.id, fox.id, fox.parent_id}
    assert await resolver.resolve("Nothing known") is None
