"""The taxon tree, label maps and project taxa lists over the API, and the
``taxonomy.changed`` broadcasts that tell inference to re-read them."""

from __future__ import annotations

from typing import Any

from tests.support.api import Site, bearer, ok
from tests.support.factories import Sites
from tests.support.platform import RunningPlatform, eventually, running, user_token
from wildlens.common.auth import TokenIssuer, load_keyring
from wildlens.common.bus import Subscription
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.taxonomy_pb2 import TaxonomyChanged
from wildlens.common.settings import LimitSettings, Settings

TAXA_CSV = (
    "taxonID,parentNameUsageID,scientificName,taxonRank,vernacularName\n"
    "1,,Animalia,kingdom,Animals\n"
    "2,1,Aves,class,Birds\n"
    "3,2,Ardeidae,family,Herons\n"
    "4,3,Ardea,genus,\n"
    "5,4,Ardea cinerea,species,Grey heron\n"
    "6,4,Ardea alba,species,Great egret\n"
    "7,2,Anatidae,family,Ducks\n"
    "8,7,Anas platyrhynchos,species,Mallard\n"
)


def _file(text: str) -> dict[str, Any]:
    return {"file": ("taxa.csv", text.encode(), "text/csv")}


async def import_tree(client: Any, token: str, text: str = TAXA_CSV) -> dict[str, str]:
    """Import ``text`` and answer scientific name → taxon id."""
    await ok(await client.post("/v1/taxa/import", files=_file(text), headers=bearer(token)), 200)
    page = await ok(await client.get("/v1/taxa?limit=1000", headers=bearer(token)), 200)
    return {t["scientific_name"]: t["id"] for t in page["items"]}


async def listen(wl: Any) -> list[TaxonomyChanged]:
    """Hear ``taxonomy.changed`` the way an inference replica does (a broadcast queue)."""
    heard: list[TaxonomyChanged] = []

    async def handler(envelopes: list[Envelope]) -> None:
        heard.extend(unpack(e, TaxonomyChanged) for e in envelopes)

    bus = wl.platform.contexts["catalogue"].bus
    bus.subscribe(Subscription("taxonomy-listener", "taxonomy.changed", handler, broadcast=True))
    # Events published before the queue exists are not for this instance (a replica that
    # starts later reads the state from the API instead).
    await bus.declared()
    return heard


async def heard_one(heard: list[TaxonomyChanged], reason: str) -> TaxonomyChanged:
    """The latest event heard for ``reason``, waiting for it."""

    async def probe() -> list[TaxonomyChanged]:
        return [e for e in heard if e.reason == reason]

    found: list[TaxonomyChanged] = await eventually(probe)
    return found[-1]


async def test_import_search_and_lineage(
    wl: RunningPlatform, settings: Settings, admin: str
) -> None:
    heard = await listen(wl)
    imported = await ok(
        await wl.client.post("/v1/taxa/import", files=_file(TAXA_CSV), headers=bearer(admin)),
        200,
    )
    assert imported == {"rows": 8, "created": 8, "updated": 0, "unchanged": 0}
    event = await heard_one(heard, "taxa.imported")
    assert event.project_id == ""
    assert event.HasField("changed_at")

    # The same file again changes nothing, and says so.
    again = await ok(
        await wl.client.post("/v1/taxa/import", files=_file(TAXA_CSV), headers=bearer(admin)),
        200,
    )
    assert again == {"rows": 8, "created": 0, "updated": 0, "unchanged": 8}

    h = bearer(user_token(settings, "someone", {}))
    found = await ok(await wl.client.get("/v1/taxa?q=HERON", headers=h), 200)
    assert [t["scientific_name"] for t in found["items"]] == ["Ardea cinerea", "Ardeidae"]
    species = await ok(await wl.client.get("/v1/taxa?rank=species", headers=h), 200)
    assert [t["scientific_name"] for t in species["items"]] == [
        "Anas platyrhynchos",
        "Ardea alba",
        "Ardea cinerea",
    ]
    # Pages in name order, without gaps or repeats.
    names: list[str] = []
    url = "/v1/taxa?limit=3"
    while url:
        page = await ok(await wl.client.get(url, headers=h), 200)
        names += [t["scientific_name"] for t in page["items"]]
        url = f"/v1/taxa?limit=3&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    assert names == sorted(names)
    assert len(names) == 8

    egret_id = next(t["id"] for t in species["items"] if t["scientific_name"] == "Ardea alba")
    egret = await ok(await wl.client.get(f"/v1/taxa/{egret_id}", headers=h), 200)
    assert egret["vernacular_names"] == {"en": "Great egret"}
    assert egret["external_id"] == "6"
    assert [a["scientific_name"] for a in egret["ancestors"]] == [
        "Ardea",
        "Ardeidae",
        "Aves",
        "Animalia",
    ]

    bad_rank = await wl.client.get("/v1/taxa?rank=tribe-ish", headers=h)
    assert bad_rank.status_code == 422
    assert bad_rank.json()["fields"][0]["location"] == ["query", "rank"]
    missing = await wl.client.get(f"/v1/taxa/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=h)
    assert missing.status_code == 404


async def test_a_bad_file_is_reported_row_by_row_and_nothing_is_imported(
    wl: RunningPlatform, admin: str
) -> None:
    bad = TAXA_CSV + "9,404,Orphanus,genus,\n10,8,Anas acuta,subspecies-ish,Pintail\n"
    response = await wl.client.post("/v1/taxa/import", files=_file(bad), headers=bearer(admin))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "Invalid"
    assert {(f["location"][1], f["location"][2]) for f in body["fields"]} == {
        (11, "taxonRank"),
    }
    # Fixed rank, but the orphan is still there: now its parent is reported.
    fixed = bad.replace("subspecies-ish", "species")
    response = await wl.client.post("/v1/taxa/import", files=_file(fixed), headers=bearer(admin))
    assert response.status_code == 422, response.text
    assert [(f["location"][1], f["location"][2], f["type"]) for f in response.json()["fields"]] == [
        (10, "parentNameUsageID", "missing_parent")
    ]
    page = await ok(await wl.client.get("/v1/taxa", headers=bearer(admin)), 200)
    assert page["items"] == []

    no_columns = await wl.client.post(
        "/v1/taxa/import", files=_file("id,name\n1,Animalia\n"), headers=bearer(admin)
    )
    assert no_columns.status_code == 422
    assert "taxonID" in no_columns.json()["detail"]


async def test_only_platform_admins_import(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site
) -> None:
    manager = user_token(settings, "manager", {site.project_id: "admin"})
    for token in (manager, site.device_token):
        response = await wl.client.post(
            "/v1/taxa/import", files=_file(TAXA_CSV), headers=bearer(token)
        )
        assert response.status_code == 403, response.text
    device_search = await wl.client.get("/v1/taxa", headers=bearer(site.device_token))
    assert device_search.status_code == 403
    assert (await wl.client.get("/v1/taxa")).status_code == 401


async def test_label_maps_and_taxa_lists_per_project(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    other = await new_site(serial="OTHER-1", name="Other project")
    pid = site.project_id
    manager = bearer(user_token(settings, "manager", {pid: "manager"}))
    viewer = bearer(user_token(settings, "viewer", {pid: "viewer"}))
    outsider = bearer(user_token(settings, "outsider", {other.project_id: "admin"}))
    inference = bearer(
        TokenIssuer(load_keyring(settings), settings.auth.issuer).service_token("inference")
    )
    heard = await listen(wl)
    url = f"/v1/projects/{pid}/label-maps/tiny-classifier"

    empty = await ok(await wl.client.get(url, headers=viewer), 200)
    assert empty["entries"] == []
    mapping = {
        "entries": [
            {"label": "heron", "taxon_id": taxa["Ardea cinerea"]},
            {"label": "duck", "taxon_id": taxa["Anatidae"]},
        ]
    }
    saved = await ok(await wl.client.put(url, json=mapping, headers=manager), 200)
    assert [(e["label"], e["scientific_name"], e["rank"]) for e in saved["entries"]] == [
        ("duck", "Anatidae", "family"),
        ("heron", "Ardea cinerea", "species"),
    ]
    # Inference reads it with its service token.
    read = await ok(await wl.client.get(url, headers=inference), 200)
    assert read["entries"] == saved["entries"]
    event = await heard_one(heard, "label_map.updated")
    assert (event.project_id, event.model_name) == (pid, "tiny-classifier")

    # A replacement drops the labels it leaves out.
    only_duck = {"entries": [{"label": "duck", "taxon_id": taxa["Anas platyrhynchos"]}]}
    await ok(await wl.client.put(url, json=only_duck, headers=manager), 200)
    read = await ok(await wl.client.get(url, headers=viewer), 200)
    assert [(e["label"], e["scientific_name"]) for e in read["entries"]] == [
        ("duck", "Anas platyrhynchos")
    ]

    unknown = "00000000-0000-4000-8000-000000000000"
    bad = {
        "entries": [
            {"label": "heron", "taxon_id": unknown},
            {"label": "duck", "taxon_id": taxa["Anatidae"]},
            {"label": "duck", "taxon_id": taxa["Anatidae"]},
        ]
    }
    response = await wl.client.put(url, json=bad, headers=manager)
    assert response.status_code == 422
    assert {tuple(f["location"]) for f in response.json()["fields"]} == {
        ("body", "entries", 0),
        ("body", "entries", 1, "label"),
        ("body", "entries", 2, "label"),
    }
    # Refused changes leave the map as it was.
    read = await ok(await wl.client.get(url, headers=viewer), 200)
    assert [e["label"] for e in read["entries"]] == ["duck"]

    assert (await wl.client.put(url, json=only_duck, headers=viewer)).status_code == 403
    assert (await wl.client.get(url, headers=outsider)).status_code == 404
    assert (await wl.client.put(url, json=only_duck, headers=outsider)).status_code == 404
    device = bearer(site.device_token)
    assert (await wl.client.get(url, headers=device)).status_code == 403

    # The project's taxa list.
    taxa_url = f"/v1/projects/{pid}/taxa"
    assert (await ok(await wl.client.get(taxa_url, headers=viewer), 200))["taxa"] == []
    chosen = [taxa["Ardea cinerea"], taxa["Anas platyrhynchos"], taxa["Ardea cinerea"]]
    listed = await ok(
        await wl.client.put(taxa_url, json={"taxon_ids": chosen}, headers=manager), 200
    )
    assert [t["scientific_name"] for t in listed["taxa"]] == [
        "Anas platyrhynchos",
        "Ardea cinerea",
    ]
    read = await ok(await wl.client.get(taxa_url, headers=inference), 200)
    assert read == listed
    assert (await heard_one(heard, "project_taxa.updated")).project_id == pid
    response = await wl.client.put(taxa_url, json={"taxon_ids": [unknown]}, headers=manager)
    assert response.status_code == 422
    assert response.json()["fields"][0]["location"] == ["body", "taxon_ids", 0]
    assert (
        await wl.client.put(taxa_url, json={"taxon_ids": []}, headers=viewer)
    ).status_code == 403
    assert (await wl.client.get(taxa_url, headers=outsider)).status_code == 404
    other_list = await ok(
        await wl.client.get(f"/v1/projects/{other.project_id}/taxa", headers=outsider), 200
    )
    assert other_list["taxa"] == []


async def test_an_oversized_file_is_refused(settings: Settings, admin: str) -> None:
    small = settings.model_copy(update={"limits": LimitSettings(csv_file_bytes=1024)})
    many = TAXA_CSV + "".join(f"{n},8,Anas sp{n},species,\n" for n in range(9, 80))
    assert len(many) > 1024
    async with running(small, ["catalogue"]) as wl:
        response = await wl.client.post("/v1/taxa/import", files=_file(many), headers=bearer(admin))
        assert response.status_code == 413, response.text
        assert "WILDLENS_LIMITS__CSV_FILE_BYTES" in response.json()["detail"]
        page = await ok(await wl.client.get("/v1/taxa", headers=bearer(admin)), 200)
        assert page["items"] == []
