"""Imported names are linked to taxa: the package's own taxonomic list first (its taxa created
with their authority ids and vernacular names, a species under its genus), then the project's
and the platform's; what stays unresolved is listed for the project's managers, who map it.
On the embedded and real backends."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests.e2e import test_exchange_kso as kso
from tests.e2e.test_camtrapdp import _import, _new_project
from tests.e2e.test_exchange_coco import export_zip, import_coco, import_example, new_project
from tests.e2e.test_exchange_dwca import read_with_dwca_reader
from tests.e2e.test_exchange_megadetector import _uploaded, import_results, results
from tests.e2e.test_taxa import TAXA_CSV, import_tree
from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE, validate, zip_folder
from tests.support.platform import RunningPlatform, user_token
from wildlens.catalogue.models import Observation
from wildlens.common.settings import Settings

pytestmark = pytest.mark.services("catalogue", "ingest")

COL = "https://www.checklistbank.org/dataset/COL2023/taxon/"
# The example's places where mallards and gadwalls were seen, and where none were.
DUCK_PONDS = {
    "B_HS_val 2_processiepark": (51.496, 4.774),
    "B_DL_val 5_beek kleine vijver": (51.181, 5.655),
}
NO_DUCKS = {"B_DL_val 3_dikke boom": (51.184, 5.659), "B_DM_val 4_'t WAD": (50.699, 4.013)}


async def observations(wl: RunningPlatform, pid: str) -> list[Observation]:
    async with wl.platform.contexts["catalogue"].db.transaction() as session:
        return list(
            await session.exec(select(Observation).where(Observation.project_id == uuid.UUID(pid)))
        )


async def taxon(wl: RunningPlatform, token: str, taxon_id: Any) -> dict[str, Any]:
    return dict(await ok(await wl.client.get(f"/v1/taxa/{taxon_id}", headers=bearer(token)), 200))


async def test_the_examples_names_are_linked_to_the_packages_taxa(
    wl: RunningPlatform, admin: str, settings: Settings
) -> None:
    pid = await _new_project(wl, admin)
    await ok(await _import(wl, admin, pid, zip_folder(EXAMPLE)), 200)

    named = [o for o in await observations(wl, pid) if o.scientific_name]
    assert len(named) == 399
    assert [o.scientific_name for o in named if o.taxon_id is None] == []

    # The heron is the package's taxon: its Catalogue of Life id, its names, under its genus.
    heron = next(o for o in named if o.scientific_name == "Ardea cinerea")
    detail = await taxon(wl, admin, heron.taxon_id)
    assert detail["external_id"] == COL + "GCHS"
    assert detail["rank"] == "species"
    assert detail["vernacular_names"] == {"eng": "grey heron", "nld": "blauwe reiger"}
    assert [(a["scientific_name"], a["external_id"]) for a in detail["ancestors"]] == [
        ("Ardea", COL + "32FH")
    ]
    # The mallard's genus is not listed: offline, the binomial's genus becomes its parent.
    mallard = next(o for o in named if o.scientific_name == "Anas platyrhynchos")
    detail = await taxon(wl, admin, mallard.taxon_id)
    assert detail["vernacular_names"] == {"eng": "mallard", "nld": "wilde eend"}
    assert [(a["scientific_name"], a["rank"]) for a in detail["ancestors"]] == [("Anas", "genus")]
    anas = detail["ancestors"][0]["id"]

    # Importing again links the same taxa, creating none.
    await ok(await _import(wl, admin, pid, zip_folder(EXAMPLE)), 200)
    again = {o.scientific_name: o.taxon_id for o in await observations(wl, pid)}
    assert again["Anas platyrhynchos"] == mallard.taxon_id
    found = await ok(await wl.client.get("/v1/taxa?q=Anas", headers=bearer(admin)), 200)
    assert sorted(t["scientific_name"] for t in found["items"]) == [
        "Anas",
        "Anas platyrhynchos",
        "Anas strepera",
    ]

    # A filter on the genus finds the imported ducks: 222 mallards and 18 gadwalls.
    ducks = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/observations?taxon_id={anas}&limit=1000", headers=bearer(admin)
        ),
        200,
    )
    assert len(ducks["items"]) == 240

    # A sensitive genus covers the imported ducks: their ponds are generalised for a viewer.
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy", json={"sensitive_taxa": [anas]}, headers=bearer(admin)
        ),
        200,
    )
    viewer = user_token(settings, "viewer-1", {pid: "viewer"})
    page = await ok(
        await wl.client.get(f"/v1/projects/{pid}/locations", headers=bearer(viewer)), 200
    )
    places = {loc["name"]: (loc["latitude"], loc["longitude"]) for loc in page["items"]}
    for name, exact in DUCK_PONDS.items():
        assert places[name] != exact
        assert places[name] == pytest.approx(exact, abs=0.1)
    for name, exact in NO_DUCKS.items():
        assert places[name] == exact


def _without_fox(tmp_path: Path) -> Path:
    """The example, its list lacking the red fox (seen 7 times)."""
    folder = tmp_path / "package"
    shutil.copytree(EXAMPLE, folder)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    descriptor["taxonomic"] = [
        t for t in descriptor["taxonomic"] if t["scientificName"] != "Vulpes vulpes"
    ]
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    return folder


async def test_coco_and_megadetector_names_are_linked_to_the_platforms_taxa(
    wl: RunningPlatform, admin: str, heron_images: list[Path]
) -> None:
    tree = await import_tree(wl.client, admin)
    # COCO: the example exported from one project, imported into another.
    source = await new_project(wl, admin, "MICA")
    await import_example(wl, admin, source)
    with await export_zip(wl, admin, source, "coco") as archive:
        document = json.loads(archive.read("coco.json"))
    pid = await new_project(wl, admin, "Copy")
    await ok(await import_coco(wl, admin, pid, document), 200)
    linked = {o.scientific_name: o.taxon_id for o in await observations(wl, pid)}
    # The platform's heron (from its Darwin Core tree), not a new one.
    assert str(linked["Ardea cinerea"]) == tree["Ardea cinerea"]
    assert all(linked[name] is not None for name in linked if name)

    # MegaDetector: the classifier's names, on uploaded images.
    images = heron_images[:3]
    site, _ = await _uploaded(wl, admin, images)
    await ok(await import_results(wl, admin, site, results([p.name for p in images])), 200)
    heron = [o for o in await observations(wl, site) if o.scientific_name == "Ardea cinerea"]
    assert [str(o.taxon_id) for o in heron] == [tree["Ardea cinerea"]]


async def test_unresolved_names_are_listed_and_a_mapping_relinks_them_quietly(
    tmp_path: Path, wl: RunningPlatform, admin: str, settings: Settings
) -> None:
    tree = await import_tree(wl.client, admin, TAXA_CSV + "9,1,Vulpes vulpes,species,Red fox\n")
    pid = await _new_project(wl, admin)
    await ok(await _import(wl, admin, pid, zip_folder(_without_fox(tmp_path))), 200)
    # The platform's fox is found by name even though the package does not list it; a name
    # nothing knows stays unresolved.
    named = {o.scientific_name: o.taxon_id for o in await observations(wl, pid)}
    assert str(named["Vulpes vulpes"]) == tree["Vulpes vulpes"]

    pid = await _new_project(wl, admin)
    package = _without_fox(tmp_path / "renamed")
    rows = (package / "observations.csv").read_text().replace("Vulpes vulpes", "Vos")
    (package / "observations.csv").write_text(rows)
    await ok(await _import(wl, admin, pid, zip_folder(package)), 200)
    url = f"/v1/projects/{pid}/taxa/unresolved"
    listed = await ok(await wl.client.get(url, headers=bearer(admin)), 200)
    assert listed["items"] == [{"name": "Vos", "observations": 7}]
    # Managers only.
    viewer = user_token(settings, "viewer-1", {pid: "viewer"})
    assert (await wl.client.get(url, headers=bearer(viewer))).status_code == 403

    # An alert rule for foxes is watching; mapping the name is no new sighting.
    rule = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/alerts",
            json={
                "name": "foxes",
                "taxon_id": tree["Vulpes vulpes"],
                "min_confidence": 0,
                "webhook_url": "http://127.0.0.1:9/hook",
            },
            headers=bearer(admin),
        ),
        201,
    )
    mapped = await ok(
        await wl.client.put(
            f"{url}/Vos", json={"taxon_id": tree["Vulpes vulpes"]}, headers=bearer(admin)
        ),
        200,
    )
    assert mapped["scientific_name"] == "Vulpes vulpes"
    assert mapped["observations_relinked"] == 7
    foxes = [o for o in await observations(wl, pid) if o.scientific_name == "Vos"]
    assert {str(o.taxon_id) for o in foxes} == {tree["Vulpes vulpes"]}
    assert (await ok(await wl.client.get(url, headers=bearer(admin)), 200))["items"] == []
    deliveries = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/alerts/{rule['id']}/deliveries", headers=bearer(admin)
        ),
        200,
    )
    assert deliveries["items"] == []

    # The next import of the package uses the mapping.
    await ok(await _import(wl, admin, pid, zip_folder(package)), 200)
    foxes = [o for o in await observations(wl, pid) if o.scientific_name == "Vos"]
    assert {str(o.taxon_id) for o in foxes} == {tree["Vulpes vulpes"]}
    # A name that is not a taxon is refused.
    refused = await wl.client.put(
        f"{url}/Vos", json={"taxon_id": str(uuid.uuid4())}, headers=bearer(admin)
    )
    assert refused.status_code == 422


async def test_exports_name_the_taxons_authority_id_rank_and_kingdom(
    tmp_path: Path, wl: RunningPlatform, admin: str
) -> None:
    # The platform knows the heron's kingdom; the package alone knows the gadwall's COL id.
    await import_tree(wl.client, admin)
    source = await new_project(wl, admin, "MICA")
    await import_example(wl, admin, source)

    with await export_zip(wl, admin, source, "dwca") as archive:
        occurrences = read_with_dwca_reader(archive, tmp_path)
    heron = next(o for o in occurrences if o["scientificName"] == "Ardea cinerea")
    assert (heron["taxonRank"], heron["kingdom"]) == ("species", "Animalia")
    gadwall = next(o for o in occurrences if o["scientificName"] == "Anas strepera")
    assert (gadwall["scientificNameID"], gadwall["taxonRank"]) == (COL + "DGPL", "species")

    # A project built from a COCO file has no taxonomic list of its own: the export makes one.
    with await export_zip(wl, admin, source, "coco") as archive:
        document = json.loads(archive.read("coco.json"))
    pid = await new_project(wl, admin, "Copy")
    await ok(await import_coco(wl, admin, pid, document), 200)
    folder = tmp_path / "package"
    with await export_zip(wl, admin, pid, "camtrap-dp") as archive:
        archive.extractall(folder)
    report = validate(folder / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    listed = {
        t["scientificName"]: t
        for t in json.loads((folder / "datapackage.json").read_text())["taxonomic"]
    }
    assert listed["Ardea cinerea"]["taxonRank"] == "species"
    assert listed["Ardea cinerea"]["kingdom"] == "Animalia"
    assert listed["Anas strepera"]["taxonID"] == COL + "DGPL"
    assert listed["Anas strepera"]["vernacularNames"] == {"eng": "gadwall", "nld": "krakeend"}


async def test_a_packages_higher_taxa_place_its_species_under_their_kingdom(
    tmp_path: Path, wl: RunningPlatform, admin: str
) -> None:
    folder = tmp_path / "package"
    shutil.copytree(EXAMPLE, folder)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    for entry in descriptor["taxonomic"]:
        if entry["scientificName"] == "Anas strepera":
            entry.update(kingdom="Animalia", **{"class": "Aves"}, family="Anatidae")
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    pid = await _new_project(wl, admin)
    await ok(await _import(wl, admin, pid, zip_folder(folder)), 200)

    gadwall = next(o for o in await observations(wl, pid) if o.scientific_name == "Anas strepera")
    detail = await taxon(wl, admin, gadwall.taxon_id)
    # Aves is the package's own listed class, with its Catalogue of Life id.
    assert [(a["scientific_name"], a["rank"]) for a in detail["ancestors"]] == [
        ("Anas", "genus"),
        ("Anatidae", "family"),
        ("Aves", "class"),
        ("Animalia", "kingdom"),
    ]
    assert detail["ancestors"][2]["external_id"] == COL + "V2"
    with await export_zip(wl, admin, pid, "dwca") as archive:
        occurrences = read_with_dwca_reader(archive, tmp_path)
    row = next(o for o in occurrences if o["scientificName"] == "Anas strepera")
    assert (row["scientificNameID"], row["kingdom"]) == (COL + "DGPL", "Animalia")


async def test_a_kso_species_list_places_its_species_under_genus_and_kingdom(
    wl: RunningPlatform, admin: str
) -> None:
    tables = {"sites": kso.SITES, "movies": kso.MOVIES, "species": kso.SPECIES}
    pid = await new_project(wl, admin, "Koster")
    await ok(await kso._import(wl, admin, pid, tables), 200)
    labels = await ok(
        await wl.client.get(f"/v1/projects/{pid}/label-maps/kso", headers=bearer(admin)), 200
    )
    cod = next(e for e in labels["entries"] if e["label"] == "Cod")
    detail = await taxon(wl, admin, cod["taxon_id"])
    assert detail["vernacular_names"] == {"en": "Cod"}
    assert [(a["scientific_name"], a["rank"]) for a in detail["ancestors"]] == [
        ("Gadus", "genus"),
        ("Animalia", "kingdom"),
    ]


async def test_an_import_adds_taxa_to_the_shared_tree_but_never_changes_them(
    tmp_path: Path, wl: RunningPlatform, admin: str
) -> None:
    """The tree is every project's: a second project's package that names the heron under the
    same authority id with other common names links to it as it is."""
    first = await _new_project(wl, admin)
    await ok(await _import(wl, admin, first, zip_folder(EXAMPLE)), 200)
    heron = next(o for o in await observations(wl, first) if o.scientific_name == "Ardea cinerea")
    before = await taxon(wl, admin, heron.taxon_id)

    folder = tmp_path / "hostile"
    shutil.copytree(EXAMPLE, folder)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    for entry in descriptor["taxonomic"]:
        if entry["scientificName"] == "Ardea cinerea":
            entry["vernacularNames"] = {"eng": "red fox", "fra": "renard"}
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    second = await _new_project(wl, admin)
    await ok(await _import(wl, admin, second, zip_folder(folder)), 200)

    linked = {o.taxon_id for o in await observations(wl, second)}
    assert heron.taxon_id in linked
    assert await taxon(wl, admin, heron.taxon_id) == before


async def test_a_name_with_a_nul_or_only_spaces_is_refused(wl: RunningPlatform, admin: str) -> None:
    pid = await _new_project(wl, admin)
    url = f"/v1/projects/{pid}/taxa/unresolved"
    for name in ("Vos%00", "%20%20", "Vos%0A"):
        response = await wl.client.put(
            f"{url}/{name}", json={"taxon_id": str(uuid.uuid4())}, headers=bearer(admin)
        )
        assert response.status_code == 422, (name, response.text)
        assert response.json()["fields"][0]["location"] == ["path", "name"]
