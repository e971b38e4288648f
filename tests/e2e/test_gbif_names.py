"""Where the platform is given GBIF's API (``WILDLENS_GBIF__BASE_URL``), an import's names that
neither the file, the project nor the platform's tree knows are matched against GBIF's backbone:
an exact match is linked to its accepted taxon, added to the tree with its higher taxa; any
other answer, and any failure to answer, leaves the name unresolved for the managers, and the
import goes through. Off (the default), nothing is sent.

GBIF is a local stand-in here (tests/support/gbif.py) that records what it was asked. On the
embedded and real backends."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.e2e.test_camtrapdp import _import, _new_project
from tests.e2e.test_exchange_coco import import_coco, new_project
from tests.e2e.test_imported_taxa import _without_fox, observations, taxon
from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok
from tests.support.camtrapdp import zip_folder
from tests.support.gbif import (
    ANATIDAE,
    ANIMALIA,
    CANIDAE,
    FELIDAE,
    GbifStandIn,
    accepted,
    gbif_stand_in,
    inexact,
    synonym,
)
from tests.support.platform import RunningPlatform, SettingsFactory, running, with_group
from wildlens.catalogue.settings import GbifSettings
from wildlens.common.settings import Settings

# Imports are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")

COL = "https://www.checklistbank.org/dataset/COL2023/taxon/"

VULPES = [*CANIDAE, ("genus", "Vulpes", 5219142)]
LYNX = accepted("Lynx lynx", 2435240, "species", [*FELIDAE, ("genus", "Lynx", 2435022)])
ANAS = [*ANATIDAE, ("genus", "Anas", 2498036)]
MARECA = accepted("Mareca strepera", 9086826, "species", [*ANATIDAE, ("genus", "Mareca", 2498029)])

BACKBONE = {
    "Vulpes vulpes": accepted("Vulpes vulpes", 5219243, "species", VULPES, "(Linnaeus, 1758)"),
    "Lynx lynx": LYNX,
    "Felis lynx": synonym("Felis lynx", 5219358, LYNX, "Linnaeus, 1758"),
    "Lynx lynks": inexact("FUZZY", LYNX),
    "Lynx pardina": inexact("HIGHERRANK", accepted("Lynx", 2435022, "genus", FELIDAE)),
    "Aves": accepted("Aves", 212, "class", ANIMALIA),
    "Anas platyrhynchos": accepted("Anas platyrhynchos", 9761484, "species", ANAS),
    "Anas strepera": synonym("Anas strepera", 2498100, MARECA),
}


@pytest.fixture
def gbif() -> Iterator[GbifStandIn]:
    with gbif_stand_in() as stand_in:
        stand_in.matches.update(BACKBONE)
        yield stand_in


@pytest.fixture
def settings(settings_for: SettingsFactory, gbif: GbifStandIn) -> Settings:
    """The platform asks the test's stand-in of GBIF."""
    return with_group(settings_for(), GbifSettings, base_url=gbif.url)


@asynccontextmanager
async def platform(settings: Settings, **gbif: Any) -> AsyncIterator[RunningPlatform]:
    """The platform with other GBIF settings (one platform at a time on the same backends)."""
    async with running(with_group(settings, GbifSettings, **gbif), ["catalogue"]) as wl:
        yield wl


def coco(*names: str) -> dict[str, Any]:
    """A COCO Camera Traps file with two annotated images of each name."""
    count = 2 * len(names)
    images = [
        {
            "id": n,
            "file_name": f"{n}.jpg",
            "location": "pond",
            "latitude": 51.05,
            "longitude": 3.72,
            "datetime": f"2021-04-01 10:{n:02d}:00",
        }
        for n in range(count)
    ]
    return {
        "images": images,
        "categories": [{"id": c, "name": name} for c, name in enumerate(names)],
        "annotations": [
            {"id": f"a{n}", "image_id": n, "category_id": n // 2} for n in range(count)
        ],
    }


async def linked(wl: RunningPlatform, pid: str) -> dict[str, set[Any]]:
    """Each name the project's observations carry → the taxa they are linked to."""
    found: dict[str, set[Any]] = {}
    for o in await observations(wl, pid):
        found.setdefault(o.scientific_name, set()).add(o.taxon_id)
    return found


async def unresolved(wl: RunningPlatform, token: str, pid: str) -> dict[str, int]:
    url = f"/v1/projects/{pid}/taxa/unresolved"
    page = await ok(await wl.client.get(url, headers=bearer(token)), 200)
    return {item["name"]: item["observations"] for item in page["items"]}


def lineage(detail: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(a["scientific_name"], a["rank"], a["external_id"]) for a in detail["ancestors"]]


async def test_names_only_gbif_knows_are_linked_to_its_taxa_with_their_parents(
    wl: RunningPlatform, admin: str, gbif: GbifStandIn
) -> None:
    tree = await import_tree(wl.client, admin)
    pid = await new_project(wl, admin)
    names = ("Ardea cinerea", "Lynx lynx", "Felis lynx", "Lynx lynks", "Lynx pardina", "empty")
    await ok(await import_coco(wl, admin, pid, coco(*names)), 200)
    taxa = await linked(wl, pid)

    # The platform's heron is its own: GBIF is asked only what nothing else knows, each name
    # once however many observations carry it.
    assert taxa["Ardea cinerea"] == {uuid.UUID(tree["Ardea cinerea"])}
    assert sorted(gbif.asked()) == ["Felis lynx", "Lynx lynks", "Lynx lynx", "Lynx pardina"]
    assert {r["strict"] for r in gbif.requests} == {"true"}

    # The lynx is GBIF's, under GBIF's genus, family … phylum, and the platform's kingdom.
    (lynx_id,) = taxa["Lynx lynx"]
    lynx = await taxon(wl, admin, lynx_id)
    assert (lynx["scientific_name"], lynx["rank"], lynx["gbif_id"]) == (
        "Lynx lynx",
        "species",
        2435240,
    )
    assert lynx["external_id"] == "gbif:2435240"
    assert lineage(lynx) == [
        ("Lynx", "genus", "gbif:2435022"),
        ("Felidae", "family", "gbif:9703"),
        ("Carnivora", "order", "gbif:732"),
        ("Mammalia", "class", "gbif:359"),
        ("Chordata", "phylum", "gbif:44"),
        ("Animalia", "kingdom", "1"),
    ]
    # A synonym is linked to its accepted taxon.
    assert taxa["Felis lynx"] == {lynx_id}
    # A fuzzy match (a guess at a misspelling) and a higher-rank match (the genus for a
    # species) stay unresolved, listed for the managers.
    assert taxa["Lynx lynks"] == taxa["Lynx pardina"] == {None}
    assert await unresolved(wl, admin, pid) == {"Lynx lynks": 2, "Lynx pardina": 2}

    # The lynx is the tree's now: importing again, or into another project, asks only what
    # GBIF could not settle.
    other = await new_project(wl, admin, "Other")
    await ok(await import_coco(wl, admin, other, coco("Lynx lynx", "Lynx lynks")), 200)
    assert (await linked(wl, other))["Lynx lynx"] == {lynx_id}
    assert sorted(gbif.asked()) == [
        "Felis lynx",
        "Lynx lynks",
        "Lynx lynks",
        "Lynx lynx",
        "Lynx pardina",
    ]


async def test_a_packages_names_are_placed_and_linked_by_gbif(
    tmp_path: Path, wl: RunningPlatform, admin: str, gbif: GbifStandIn
) -> None:
    """The example package without the fox in its list: GBIF links the fox, and places the
    package's own taxa where it knows them as accepted (instead of a genus made up offline)."""
    pid = await _new_project(wl, admin)
    package = zip_folder(_without_fox(tmp_path))
    await ok(await _import(wl, admin, pid, package), 200)
    taxa = await linked(wl, pid)
    asked = gbif.asked()
    assert asked.count("Vulpes vulpes") == 1
    assert len(asked) == len(set(asked))

    (fox_id,) = taxa["Vulpes vulpes"]
    fox = await taxon(wl, admin, fox_id)
    assert (fox["external_id"], fox["authorship"]) == ("gbif:5219243", "(Linnaeus, 1758)")
    assert [a[0] for a in lineage(fox)] == [
        "Vulpes",
        "Canidae",
        "Carnivora",
        "Mammalia",
        "Chordata",
        "Animalia",
    ]

    # The mallard is the package's taxon (its Catalogue of Life id, its names), under GBIF's
    # genus and family, and the package's own class, itself placed by GBIF.
    (mallard_id,) = taxa["Anas platyrhynchos"]
    mallard = await taxon(wl, admin, mallard_id)
    assert (mallard["external_id"], mallard["gbif_id"]) == (COL + "DGP6", 9761484)
    assert mallard["vernacular_names"] == {"eng": "mallard", "nld": "wilde eend"}
    assert lineage(mallard) == [
        ("Anas", "genus", "gbif:2498036"),
        ("Anatidae", "family", "gbif:2986"),
        ("Anseriformes", "order", "gbif:1549"),
        ("Aves", "class", COL + "V2"),
        ("Chordata", "phylum", "gbif:44"),
        ("Animalia", "kingdom", "gbif:1"),
    ]
    # GBIF takes the gadwall for a synonym of another genus's species: the package's list says
    # what its name means, so it stays the package's taxon, placed offline under its genus.
    (gadwall_id,) = taxa["Anas strepera"]
    gadwall = await taxon(wl, admin, gadwall_id)
    assert (gadwall["external_id"], gadwall["gbif_id"]) == (COL + "DGPL", None)
    assert lineage(gadwall)[0][:2] == ("Anas", "genus")
    assert all(a[0] != "Mareca" for a in lineage(gadwall))

    # Importing it again finds every name in the tree: GBIF is not asked again.
    await ok(await _import(wl, admin, pid, package), 200)
    assert gbif.asked() == asked
    assert (await linked(wl, pid))["Vulpes vulpes"] == {fox_id}


async def test_an_import_goes_through_whatever_gbif_answers(
    settings: Settings, admin: str, gbif: GbifStandIn
) -> None:
    """An error, garbage, no server, or no answer within the timeout: the import succeeds,
    its names stay unresolved, and GBIF is not asked again in that import."""
    document = coco("Lynx lynx", "Vulpes vulpes")
    async with platform(settings, base_url=gbif.url) as wl:
        for status, raw in ((500, None), (200, b"<html>down for maintenance</html>")):
            gbif.status, gbif.raw = status, raw
            before = len(gbif.asked())
            pid = await new_project(wl, admin)
            await ok(await import_coco(wl, admin, pid, document), 200)
            assert await unresolved(wl, admin, pid) == {"Lynx lynx": 2, "Vulpes vulpes": 2}
            assert len(gbif.asked()) == before + 1
        gbif.status, gbif.raw = 200, None

    async with platform(settings, base_url=f"http://127.0.0.1:{free_port()}/v1") as wl:
        pid = await new_project(wl, admin)
        await ok(await import_coco(wl, admin, pid, document), 200)
        assert await unresolved(wl, admin, pid) == {"Lynx lynx": 2, "Vulpes vulpes": 2}

    # The stand-in holds its (good) answer far longer than the platform waits.
    gbif.hold = threading.Event()
    try:
        async with platform(settings, base_url=gbif.url, timeout_s=0.5) as wl:
            before = len(gbif.asked())
            pid = await new_project(wl, admin)
            await ok(await import_coco(wl, admin, pid, document), 200)
            assert await unresolved(wl, admin, pid) == {"Lynx lynx": 2, "Vulpes vulpes": 2}
            assert len(gbif.asked()) == before + 1
    finally:
        gbif.hold.set()
    gbif.hold = None

    # Once GBIF answers again, the next import links the names.
    async with platform(settings, base_url=gbif.url) as wl:
        await ok(await import_coco(wl, admin, pid, document), 200)
        assert await unresolved(wl, admin, pid) == {}


async def test_off_nothing_is_sent(
    tmp_path: Path, settings: Settings, admin: str, gbif: GbifStandIn
) -> None:
    async with platform(settings, base_url="") as wl:
        pid = await new_project(wl, admin)
        await ok(await import_coco(wl, admin, pid, coco("Lynx lynx")), 200)
        assert await unresolved(wl, admin, pid) == {"Lynx lynx": 2}
        # The package's mallard goes under a genus made up offline, as it always has.
        pid = await _new_project(wl, admin)
        await ok(await _import(wl, admin, pid, zip_folder(_without_fox(tmp_path))), 200)
        (mallard_id,) = (await linked(wl, pid))["Anas platyrhynchos"]
        mallard = await taxon(wl, admin, mallard_id)
        assert lineage(mallard) == [("Anas", "genus", "name:Anas")]
        assert await unresolved(wl, admin, pid) == {"Vulpes vulpes": 7}
    assert gbif.requests == []
