"""EcoTaxa TSV bundles in and out, on the embedded and the real backends.

Generated vignettes of three object classes, written as an EcoTaxa bundle in the real layout,
are imported as a job: each object is a medium with its sample, acquisition, process, depth
and features, and an observation in its annotation's state; categories are matched to the
taxonomy, non-taxonomic ones kept as morphological categories. People validate some objects
through the API; the export gives every object, feature, state, person and time back in the
same layout. A bundle with problems is refused whole with every problem listed and nothing
stored; features filter and sort the media and observation lists.
"""

from __future__ import annotations

import csv
import io
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_exchange_coco import export_zip, new_project
from tests.e2e.test_hostile_input import nothing_stored
from tests.e2e.test_import_jobs import _finished, _start
from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok, put_signed
from tests.support.ecotaxa import HEADER_TYPES, EcoRow, bundle_zip, write_bundle
from tests.support.platform import RunningPlatform, eventually, user_token
from wildlens.common.storage import display_key

pytestmark = pytest.mark.services("catalogue", "ingest")

PLANKTON_TAXA = (
    "taxonID,parentNameUsageID,scientificName,taxonRank,vernacularName\n"
    "1,,Animalia,kingdom,Animals\n"
    "2,1,Arthropoda,phylum,\n"
    "3,2,Copepoda,subclass,Copepods\n"
)
VALIDATOR = "expert-1"


def _rows() -> list[EcoRow]:
    rows = [
        EcoRow(f"obj_{n:02d}", kind, size, sample=sample)
        for n, (kind, size, sample) in enumerate(
            [
                ("disc", 12, "s1"),
                ("disc", 30, "s1"),
                ("square", 16, "s1"),
                ("ring", 24, "s2"),
                ("disc", 20, "s2"),
                ("square", 28, "s2"),
            ]
        )
    ]
    # A person's validation, its time written with leading zeros dropped (00:04:20), at a
    # position in UVP6's degrees and minutes.
    rows[0].cells |= {
        "object_annotation_status": "validated",
        "object_annotation_person_name": "Marie Curie",
        "object_annotation_person_email": "marie@example.org",
        "object_annotation_date": "20240313",
        "object_annotation_time": "420",
        "object_lat": "43°41.10",
        "object_lon": "-7°18.90",
        "object_time": "5",
    }
    rows[2].cells |= {
        "object_annotation_status": "dubious",
        "object_annotation_person_name": "Ann Other",
        "object_annotation_date": "20240314",
        "object_annotation_time": "235959",
    }
    return rows


async def _job(
    wl: RunningPlatform, admin: str, pid: str, archive: bytes, **options: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "format": "ecotaxa",
        "files": [{"name": "bundle.zip", "size": len(archive)}],
    }
    if options:
        body["options"] = options
    job = await ok(
        await wl.client.post(f"/v1/projects/{pid}/import-jobs", json=body, headers=bearer(admin)),
        201,
    )
    await put_signed(wl.client, wl.settings.public_url, job["files"][0]["upload_url"], archive)
    await ok(await _start(wl, admin, pid, job["id"]), 202)
    return await _finished(wl, admin, pid, job["id"])


async def _list(wl: RunningPlatform, token: str, pid: str, what: str, query: str = "") -> Any:
    response = await wl.client.get(
        f"/v1/projects/{pid}/{what}?limit=100{query}", headers=bearer(token)
    )
    return await ok(response, 200)


def _tsv_rows(archive: zipfile.ZipFile) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for name in archive.namelist():
        if name.endswith(".tsv"):
            reader = csv.reader(io.StringIO(archive.read(name).decode()), delimiter="\t")
            header, types, *body = list(reader)
            assert all(t in ("[t]", "[f]") for t in types), types
            for values in body:
                row = dict(zip(header, values, strict=True))
                row["_folder"] = name.rsplit("/", 1)[0]
                row["_types"] = dict(zip(header, types, strict=True))  # type: ignore[assignment]
                rows[row["object_id"]] = row
    return rows


async def test_a_bundle_imports_validates_and_exports_back(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin, PLANKTON_TAXA)
    pid = await new_project(wl, admin, "Plankton")
    rows = _rows()
    files = write_bundle(tmp_path / "bundle", rows)
    done = await _job(wl, admin, pid, bundle_zip(files))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    created = done["summary"]["created"]
    assert created["media"] == created["objects"] == created["observations"] == 6
    assert (created["samples"], created["acquisitions"], created["processes"]) == (2, 2, 1)
    assert created["features"] == 6 * 4
    assert done["summary"]["unmatched"] == []

    project = await ok(await wl.client.get(f"/v1/projects/{pid}", headers=bearer(admin)), 200)
    assert project["media_kind"] == "objects"

    # Objects never wait for a camera deployment; each keeps its features.
    media = (await _list(wl, admin, pid, "media"))["items"]
    assert len(media) == 6
    assert all(m["deployment_id"] is None for m in media)
    by_name = {m["filename"]: m for m in media}
    first = by_name["obj_00.png"]
    detail = await ok(await wl.client.get(f"/v1/media/{first['id']}", headers=bearer(admin)), 200)
    assert detail["resolution_issue"] == ""
    assert detail["captured_at"].startswith("2024-03-12T00:00:05")
    assert detail["latitude"] == pytest.approx(43 + 41.10 / 60)
    assert detail["longitude"] == pytest.approx(-(7 + 18.90 / 60))
    assert set(first["features"]) == {"area", "major", "minor", "mean"}
    assert first["object"]["depth_min"] == 10.0
    assert first["object"]["sample"] == "s1"
    assert first["object"]["morphological"] is False
    assert by_name["obj_03.png"]["object"]["morphological"] is True  # egg<other

    # Features filter and sort the lists.
    large = await _list(wl, admin, pid, "media", "&feature=major>=24")
    assert sorted(m["filename"] for m in large["items"]) == [
        "obj_01.png",
        "obj_03.png",
        "obj_05.png",
    ]
    ordered = await _list(wl, admin, pid, "media", "&sort=-feature:area")
    areas = [m["features"]["area"] for m in ordered["items"]]
    assert areas == sorted(areas, reverse=True)
    assert len(areas) == 6
    paged = await _list(wl, admin, pid, "media", "&sort=feature:area&limit=4")
    assert len(paged["items"]) == 4
    assert paged["next_cursor"]
    rest = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/media?sort=feature:area&limit=4&cursor={paged['next_cursor']}",
            headers=bearer(admin),
        ),
        200,
    )
    paged_areas = [m["features"]["area"] for m in paged["items"] + rest["items"]]
    assert paged_areas == sorted(areas)
    observed = await _list(wl, admin, pid, "observations", "&feature=area<200&sort=feature:area")
    assert observed["items"], observed
    bad = await wl.client.get(f"/v1/projects/{pid}/media?feature=area~~3", headers=bearer(admin))
    assert bad.status_code == 422, bad.text

    # Categories: a taxon of the tree, and morphological ones outside it.
    observations = (await _list(wl, admin, pid, "observations"))["items"]
    by_media = {o["media_id"]: o for o in observations}
    assert by_media[first["id"]]["verification_state"] == "validated"
    assert by_media[first["id"]]["taxon_id"] is not None
    assert by_media[by_name["obj_03.png"]["id"]]["taxon_id"] is None
    assert by_media[by_name["obj_03.png"]["id"]]["scientific_name"] == "egg"

    # An expert validates two predicted objects through the API.
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/members/{VALIDATOR}",
            json={"role": "annotator"},
            headers=bearer(admin),
        ),
        201,
    )
    expert = user_token(wl.settings, VALIDATOR, {pid: "annotator"})
    for name in ("obj_01.png", "obj_05.png"):
        observation = by_media[by_name[name]["id"]]
        await ok(
            await wl.client.post(
                f"/v1/projects/{pid}/observations/{observation['id']}/validate",
                headers=bearer(expert),
            ),
            200,
        )

    archive = await export_zip(wl, admin, pid, "ecotaxa")
    back = _tsv_rows(archive)
    assert set(back) == {r.object_id for r in rows}
    sent = {name: data for name, data in files.items() if name.endswith(".tsv")}
    original: dict[str, dict[str, str]] = {}
    for data in sent.values():
        reader = csv.reader(io.StringIO(data.decode()), delimiter="\t")
        header, _types, *body = list(reader)
        for values in body:
            original[values[header.index("object_id")]] = dict(zip(header, values, strict=True))
    for object_id, row in back.items():
        source = original[object_id]
        for feature in ("area", "major", "minor", "mean"):
            assert float(row[f"object_{feature}"]) == float(source[f"object_{feature}"])
            assert row["_types"][f"object_{feature}"] == "[f]"  # type: ignore[index]
        assert row["object_comment"] == source["object_comment"]
        assert row["sample_id"] == source["sample_id"] == row["_folder"]
        assert row["acq_sub_part"] == "4"
        assert row["process_pixel"] == "10.6"
        assert row["sample_cruise"] == "Point B"
        assert float(row["object_depth_min"]) == float(source["object_depth_min"])
        assert row["object_annotation_category"] == source["object_annotation_category"]
        assert row["object_annotation_category_id"] == source["object_annotation_category_id"]
        image = archive.read(f"{row['_folder']}/{row['img_file_name']}")
        assert image == files[f"{source['sample_id']}/{object_id}.png"]
    assert back["obj_00"]["object_annotation_status"] == "validated"
    assert back["obj_00"]["object_annotation_person_name"] == "Marie Curie"
    assert back["obj_00"]["object_annotation_person_email"] == "marie@example.org"
    assert (back["obj_00"]["object_annotation_date"], back["obj_00"]["object_annotation_time"]) == (
        "20240313",
        "000420",
    )
    assert back["obj_00"]["object_time"] == "000005"
    assert float(back["obj_00"]["object_lat"]) == pytest.approx(43.685)
    assert back["obj_02"]["object_annotation_status"] == "dubious"
    assert back["obj_02"]["object_annotation_person_name"] == "Ann Other"
    assert back["obj_02"]["object_annotation_time"] == "235959"
    for validated in ("obj_01", "obj_05"):
        assert back[validated]["object_annotation_status"] == "validated"
        assert back[validated]["object_annotation_person_name"] == VALIDATOR
        assert back[validated]["object_annotation_date"]
    assert back["obj_04"]["object_annotation_status"] == "predicted"

    # The export re-imports as it is: the same objects, updated, nothing new.
    export_files = {
        name: archive.read(name) for name in archive.namelist() if not name.endswith("/")
    }
    again = await _job(wl, admin, pid, bundle_zip(export_files))
    assert again["status"] == "succeeded", (again["error"], again["problems"][:5])
    assert again["summary"]["updated"]["media"] == 6
    assert "media" not in again["summary"]["created"]

    # Imported vignettes get display copies, as Camtrap DP's files do.
    store = wl.platform.store
    await eventually(lambda: store.exists(display_key(detail["sha256"])), timeout=30)


async def test_a_bundle_with_problems_is_refused_whole(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin, PLANKTON_TAXA)
    pid = await new_project(wl, admin, "Refused")
    rows = _rows()
    rows[1].cells["object_id"] = "obj_00"  # a duplicate
    rows[3].cells["object_annotation_category"] = "Unheardofia"  # no taxon, no morphology
    rows[4].cells["object_area"] = "large"  # the type row says [f]
    rows[5].cells["object_date"] = "20241345"
    files = write_bundle(tmp_path / "bundle", rows)
    archive = bundle_zip(files, drop=("s1/obj_02.png",))  # a missing image
    done = await _job(wl, admin, pid, archive)
    assert done["status"] == "failed"
    assert "nothing was imported" in done["error"]
    found = {(p["resource"], p["row"], p["field"]) for p in done["problems"]}
    assert found == {
        ("s1/ecotaxa_s1.tsv", 4, "object_id"),
        ("s1/ecotaxa_s1.tsv", 5, "img_file_name"),
        ("s2/ecotaxa_s2.tsv", 3, "object_annotation_category"),
        ("s2/ecotaxa_s2.tsv", 4, "object_area"),
        ("s2/ecotaxa_s2.tsv", 5, "object_date"),
    }, done["problems"]
    await nothing_stored(wl, admin, pid)
    assert (await _list(wl, admin, pid, "media"))["items"] == []

    # Accepting unknown categories imports the bundle once the other problems are fixed,
    # listing what could not be matched; coordinates given as DD.MMmm read as such.
    rows = _rows()
    rows[3].cells["object_annotation_category"] = "Unheardofia<Animalia"
    for row in rows[1:]:
        row.cells |= {"object_lat": "43.4110", "object_lon": "7.1890"}
    types = HEADER_TYPES
    files = write_bundle(tmp_path / "fixed", rows, types)
    done = await _job(wl, admin, pid, bundle_zip(files), accept_unknown=True, coordinates="dm")
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    assert done["summary"]["unmatched"] == ["Unheardofia<Animalia"]
    media = {m["filename"]: m for m in (await _list(wl, admin, pid, "media"))["items"]}
    detail = await ok(
        await wl.client.get(f"/v1/media/{media['obj_04.png']['id']}", headers=bearer(admin)), 200
    )
    assert detail["latitude"] == pytest.approx(43 + 41.10 / 60)
    assert detail["longitude"] == pytest.approx(7 + 18.90 / 60)


async def test_a_viewer_gets_sensitive_objects_at_the_grid_cell(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    taxa = await import_tree(wl.client, admin, PLANKTON_TAXA)
    pid = await new_project(wl, admin, "Sensitive plankton")
    rows = [
        EcoRow("c1", "disc", 14, sample="s1"),
        EcoRow("d1", "square", 18, sample="s1"),
        EcoRow("e2", "ring", 22, sample="s2"),
        EcoRow("d2", "square", 26, sample="s2"),
    ]
    files = write_bundle(tmp_path / "bundle", rows)
    done = await _job(wl, admin, pid, bundle_zip(files))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy",
            json={"sensitive_taxa": [taxa["Copepoda"]], "coordinate_precision": 0.1},
            headers=bearer(admin),
        ),
        200,
    )
    media = (await _list(wl, admin, pid, "media"))["items"]
    store = wl.platform.store
    for m in media:
        detail = await ok(await wl.client.get(f"/v1/media/{m['id']}", headers=bearer(admin)), 200)
        await eventually(partial(store.exists, display_key(detail["sha256"])), timeout=30)
    viewer = user_token(wl.settings, "viewer-1", {pid: "viewer"})

    back = _tsv_rows(await export_zip(wl, viewer, pid, "ecotaxa"))
    centre = (43.65, 7.35)  # the centre of 43.685, 7.315's 0.1° cell
    # The copepod's sample is generalised, objects and sample alike; the other stays exact.
    for object_id in ("c1", "d1"):
        row = back[object_id]
        assert (float(row["object_lat"]), float(row["object_lon"])) == pytest.approx(centre)
        assert (float(row["sample_lat"]), float(row["sample_lon"])) == pytest.approx(centre)
    for object_id in ("e2", "d2"):
        row = back[object_id]
        assert (float(row["object_lat"]), float(row["object_lon"])) == (43.685, 7.315)
    # The viewer's bundle carries display copies (JPEG), never the originals.
    assert all(row["img_file_name"].endswith(".png.jpg") for row in back.values())
    exact = _tsv_rows(await export_zip(wl, admin, pid, "ecotaxa"))
    assert float(exact["c1"]["object_lat"]) == 43.685
