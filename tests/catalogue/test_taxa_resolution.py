"""Names resolved by a checklist service land in the tree beside what is there: the tree's own
taxa are linked as they are, only the missing ones are added (a resolver made here stands in
for GBIF; tests/e2e/test_gbif_names.py asks a stand-in of GBIF's API over HTTP)."""

from __future__ import annotations

from sqlmodel import select

from tests.catalogue.test_taxa_tree import HEADER, db  # noqa: F401  (fixture)
from wildlens.catalogue.models import Taxon
from wildlens.catalogue.taxa.importer import import_taxa
from wildlens.catalogue.taxa.repository import ancestors, descendants
from wildlens.catalogue.taxa.resolution import LineageItem, NameResolver, Resolution, store_lineage
from wildlens.common.db import Database

FOX = [
    LineageItem(1, "kingdom", "Animalia"),
    LineageItem(359, "class", "Mammalia"),
    LineageItem(9701, "family", "Canidae"),
    LineageItem(5219142, "genus", "Vulpes"),
    LineageItem(5219243, "species", "Vulpes vulpes", {"en": "Red fox"}, "(Linnaeus, 1758)"),
]


class Backbone:
    async def resolve(self, name: str) -> Resolution | None:
        return Resolution(FOX) if name == "Vulpes vulpes" else None


async def test_a_resolved_lineage_is_upserted_by_gbif_key(db: Database) -> None:  # noqa: F811
    resolver: NameResolver = Backbone()
    resolution = await resolver.resolve("Vulpes vulpes")
    assert resolution is not None
    async with db.transaction() as session:
        fox, report = await store_lineage(session, resolution.lineage)
    assert (report.created, fox.scientific_name, fox.gbif_id) == (5, "Vulpes vulpes", 5219243)
    assert (fox.external_id, fox.authorship) == ("gbif:5219243", "(Linnaeus, 1758)")
    async with db.transaction() as session:
        again, report = await store_lineage(session, resolution.lineage)
        canidae = (
            await session.exec(select(Taxon).where(Taxon.scientific_name == "Canidae"))
        ).one()
        below = await descendants(session, canidae.id)
    assert (again.id, report.created, report.unchanged) == (fox.id, 0, 5)
    assert below == {canidae.id, fox.id, fox.parent_id}
    assert await resolver.resolve("Nothing known") is None


async def test_the_trees_own_taxa_are_linked_as_they_are(db: Database) -> None:  # noqa: F811
    """An admin's Darwin Core tree has the kingdom and the family under other ids: the fox
    goes under them, and they are not changed (the tree is every project's), so the family
    stays right under the kingdom where the admin put it."""
    tree = HEADER + "A,,Animalia,kingdom,Animals\nC,A,Canidae,family,Dogs\n"
    async with db.transaction() as session:
        await import_taxa(session, tree.encode())
    async with db.transaction() as session:
        before = {t.external_id: t.fields() for t in (await session.exec(select(Taxon))).all()}
        fox, report = await store_lineage(session, FOX)
        lineage = [(t.scientific_name, t.external_id) for t in await ancestors(session, fox)]
        after = {t.external_id: t.fields() for t in (await session.exec(select(Taxon))).all()}
    assert (report.created, report.unchanged) == (3, 2)
    assert lineage == [("Vulpes", "gbif:5219142"), ("Canidae", "C"), ("Animalia", "A")]
    assert {k: after[k] for k in before} == before
