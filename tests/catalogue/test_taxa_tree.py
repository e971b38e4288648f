"""The taxon tree in the database: Darwin Core imports, all or nothing, and the recursive
queries taxon filters use, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import func, select

from tests.conftest import PG_URL
from wildlens.catalogue.models import Taxon
from wildlens.catalogue.service import service
from wildlens.catalogue.taxa.importer import import_taxa
from wildlens.catalogue.taxa.repository import ancestors, descendants
from wildlens.common.db import Database, create_database
from wildlens.common.db.migrations import upgrade
from wildlens.common.errors import Invalid
from wildlens.common.settings import Settings

HEADER = "taxonID,parentNameUsageID,scientificName,taxonRank,vernacularName\n"
TREE = HEADER + (
    "1,,Animalia,kingdom,Animals\n"
    "2,1,Aves,class,Birds\n"
    "3,2,Ardeidae,family,Herons\n"
    "4,3,Ardea,genus,\n"
    "5,4,Ardea cinerea,species,Grey heron\n"
    "6,4,Ardea alba,species,Great egret\n"
    "7,2,Anatidae,family,Ducks\n"
    "8,7,Anas platyrhynchos,species,Mallard\n"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.backends)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path)
    else:
        prefix = request.getfixturevalue("pg_schema_prefix")
        settings = Settings(
            data_dir=tmp_path, database_url=PG_URL, database={"schema_prefix": prefix}
        )
    database = create_database(settings, "catalogue")
    spec = service()
    assert spec.migrations is not None
    await upgrade(database, Path(spec.migrations))
    try:
        yield database
    finally:
        await database.dispose()


async def _by_name(db: Database) -> dict[str, Taxon]:
    async with db.transaction() as session:
        return {t.scientific_name: t for t in (await session.exec(select(Taxon))).all()}


async def _count(db: Database) -> int:
    async with db.transaction() as session:
        return int((await session.exec(select(func.count()).select_from(Taxon))).one())


async def test_a_family_has_its_genera_and_species_below_it(db: Database) -> None:
    async with db.transaction() as session:
        report = await import_taxa(session, TREE.encode())
    assert (report.created, report.updated, report.unchanged) == (8, 0, 0)
    taxa = await _by_name(db)
    async with db.transaction() as session:
        herons = await descendants(session, taxa["Ardeidae"].id)
        birds = await descendants(session, taxa["Aves"].id)
        mallard = await descendants(session, taxa["Anas platyrhynchos"].id)
        lineage = await ancestors(session, taxa["Ardea cinerea"])
        nothing = await descendants(session, uuid.uuid4())
    assert herons == {taxa[n].id for n in ("Ardeidae", "Ardea", "Ardea cinerea", "Ardea alba")}
    assert birds == {t.id for name, t in taxa.items() if name != "Animalia"}
    assert mallard == {taxa["Anas platyrhynchos"].id}
    assert [t.scientific_name for t in lineage] == ["Ardea", "Ardeidae", "Aves", "Animalia"]
    assert nothing == set()
    assert taxa["Ardea cinerea"].vernacular_names == {"en": "Grey heron"}


async def test_a_second_import_updates_by_taxon_id_and_can_move_a_taxon(db: Database) -> None:
    async with db.transaction() as session:
        await import_taxa(session, TREE.encode())
    before = await _by_name(db)
    # Ardea alba moves to a new genus Casmerodius given later in the same file, and gets a
    # Dutch name; the others are unchanged.
    again = (
        "taxonID,parentNameUsageID,scientificName,taxonRank,vernacularName,language\n"
        "6,9,Ardea alba,species,Grote zilverreiger,nl\n"
        "9,3,Casmerodius,genus,,\n"
        "5,4,Ardea cinerea,species,Grey heron,en\n"
    )
    async with db.transaction() as session:
        report = await import_taxa(session, again.encode())
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    after = await _by_name(db)
    assert after["Ardea alba"].id == before["Ardea alba"].id
    assert after["Ardea alba"].parent_id == after["Casmerodius"].id
    assert after["Ardea alba"].vernacular_names == {"en": "Great egret", "nl": "Grote zilverreiger"}
    async with db.transaction() as session:
        assert await descendants(session, after["Ardea"].id) == {
            after["Ardea"].id,
            after["Ardea cinerea"].id,
        }


async def test_every_bad_row_is_reported_and_nothing_is_written(db: Database) -> None:
    bad = HEADER + (
        "1,,Animalia,kingdom,\n"
        "2,1,Aves,class,\n"
        "3,99,Ardeidae,family,\n"  # parent nowhere
        "4,2,Ardea,sorta-genus,\n"  # unknown rank
        "10,11,Loopus,genus,\n"  # 10 → 11 → 10
        "11,10,Loopa,genus,\n"
        "2,1,Aves again,class,\n"  # duplicate id
        ",1,Nameless id,genus,\n"
    )
    async with db.transaction() as session:
        with pytest.raises(Invalid) as raised:
            await import_taxa(session, bad.encode())
    problems = {(f.location[1], f.location[2], f.type) for f in raised.value.fields}
    assert (5, "taxonRank", "value_error.rank") in problems
    assert (8, "taxonID", "duplicate") in problems
    assert (9, "taxonID", "missing") in problems
    assert await _count(db) == 0
    # Once the file is parsed, parents and cycles are checked against the tree.
    parents = HEADER + "1,,Animalia,kingdom,\n3,99,Ardeidae,family,\n10,11,Loopus,genus,\n"
    async with db.transaction() as session:
        with pytest.raises(Invalid) as raised:
            await import_taxa(session, parents.encode())
    assert {(f.location[1], f.type) for f in raised.value.fields} == {
        (3, "missing_parent"),
        (4, "missing_parent"),
    }
    cycle = HEADER + "1,,Animalia,kingdom,\n10,11,Loopus,genus,\n11,10,Loopa,genus,\n"
    async with db.transaction() as session:
        with pytest.raises(Invalid) as raised:
            await import_taxa(session, cycle.encode())
    assert {(f.location[1], f.type) for f in raised.value.fields} == {
        (3, "cycle"),
        (4, "cycle"),
    }
    assert await _count(db) == 0


async def test_a_cycle_through_the_stored_tree_is_refused(db: Database) -> None:
    async with db.transaction() as session:
        await import_taxa(session, TREE.encode())
    # Aves under Ardea: Ardea's stored ancestors include Aves, so this would close a loop.
    loop = HEADER + "2,4,Aves,class,\n"
    async with db.transaction() as session:
        with pytest.raises(Invalid) as raised:
            await import_taxa(session, loop.encode())
    assert [f.type for f in raised.value.fields] == ["cycle"]
    taxa = await _by_name(db)
    assert taxa["Aves"].parent_id == taxa["Animalia"].id


async def test_tab_separated_files_and_identifiers_are_read(db: Database) -> None:
    text = (
        "taxonID\tparentNameUsageID\tscientificName\ttaxonRank\tscientificNameID\n"
        "a\t\tAnimalia\tKingdom\t\n"
        "b\ta\tGadus morhua\tSpecies\turn:lsid:marinespecies.org:taxname:126436\n"
        "c\ta\tVulpes vulpes\tspecies\thttps://www.gbif.org/species/5219243\n"
    )
    async with db.transaction() as session:
        await import_taxa(session, ("\ufeff" + text).encode())
    taxa = await _by_name(db)
    assert taxa["Gadus morhua"].worms_id == 126436
    assert taxa["Vulpes vulpes"].gbif_id == 5219243
    assert taxa["Animalia"].rank == "kingdom"
