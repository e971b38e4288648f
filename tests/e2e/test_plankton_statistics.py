"""Per-sample statistics of single objects and the samples' read routes, on the embedded and
the real backends: a net sample (ZooScan) and a profile (UVP) imported from one EcoTaxa
bundle, counted, turned into concentrations and biovolumes per cubic metre equal to the
values worked out by hand; a profile without its images per depth bin is refused, naming
what is missing."""

from __future__ import annotations

import csv
import io
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_exchange_coco import export_zip, new_project
from tests.e2e.test_exchange_dwca import TEXT, read_with_dwca_reader, tab_separated, valid_eml
from tests.e2e.test_exchange_ecotaxa import PLANKTON_TAXA, _job
from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok
from tests.support.ecotaxa import HEADER_TYPES, EcoRow, bundle_zip, write_bundle
from tests.support.platform import RunningPlatform, user_token

pytestmark = pytest.mark.services("catalogue", "ingest")

PIXEL_MM = 0.0106
TYPES = HEADER_TYPES | {"acq_volimage": "[f]"}


def _object(
    object_id: str, kind: str, sample: str, depth: float, status: str = "validated", **cells: str
) -> EcoRow:
    row = EcoRow(object_id, kind, 16, sample=sample)
    row.cells |= {
        "object_annotation_status": status,
        "object_annotation_person_name": "Marie Curie" if status != "predicted" else "",
        "object_depth_min": str(depth),
        "object_depth_max": str(depth),
        "process_pixel": str(PIXEL_MM),
        **cells,
    }
    return row


def _sizes(major: float, minor: float, area: float) -> dict[str, str]:
    return {"object_major": str(major), "object_minor": str(minor), "object_area": str(area)}


def plankton_rows() -> list[EcoRow]:
    """A net sample n1 (2.5 m³, a quarter imaged) and a UVP profile u1 (1 litre an image)."""
    uvp = {"acq_volimage": "1.0", "acq_instrument": "UVP5"}
    return [
        _object("n_cop1", "disc", "n1", 10, **_sizes(30, 10, 200)),
        _object("n_cop2", "disc", "n1", 20, **_sizes(20, 20, 300)),
        _object("n_det", "square", "n1", 12, **_sizes(40, 40, 1600)),
        _object("n_pred", "disc", "n1", 14, status="predicted", **_sizes(10, 10, 80)),
        _object("u_cop1", "disc", "u1", 5, **uvp, **_sizes(12, 6, 60)),
        _object("u_cop2", "disc", "u1", 7, **uvp, **_sizes(12, 6, 60)),
        _object("u_cop3", "disc", "u1", 15, **uvp, **_sizes(12, 6, 60)),
    ]


def ellipsoid(major: float, minor: float) -> float:
    return 4 / 3 * math.pi * (major * PIXEL_MM / 2) * (minor * PIXEL_MM / 2) ** 2


def sphere_of_area(area: float) -> float:
    esd = 2 * math.sqrt(area * PIXEL_MM**2 / math.pi)
    return math.pi / 6 * esd**3


async def import_plankton(
    wl: RunningPlatform,
    admin: str,
    tmp_path: Path,
    name: str,
    extra: dict[str, bytes] | None = None,
) -> str:
    pid = await new_project(wl, admin, name)
    files = write_bundle(tmp_path / name, plankton_rows(), TYPES)
    done = await _job(wl, admin, pid, bundle_zip(files | (extra or {})))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    return pid


# The UVP's images per depth bin, beside its TSV (EcoTaxa's type row under the header).
DEPTH_BINS = b"depth_min\tdepth_max\timages\n[f]\t[f]\t[f]\n0\t10\t100\n10\t20\t50\n"


async def statistic(
    wl: RunningPlatform, token: str, pid: str, name: str, query: str = "", status: int = 200
) -> Any:
    response = await wl.client.get(
        f"/v1/projects/{pid}/statistics/{name}?{query}", headers=bearer(token)
    )
    return await ok(response, status)


def _by(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in keys): r for r in rows}


async def test_concentrations_and_biovolumes_per_sample_equal_the_hand_computed_values(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    taxa = await import_tree(wl.client, admin, PLANKTON_TAXA)
    pid = await import_plankton(wl, admin, tmp_path, "Point B")

    # The samples with their acquisitions, processes and objects.
    samples = (
        await ok(await wl.client.get(f"/v1/projects/{pid}/samples", headers=bearer(admin)), 200)
    )["items"]
    assert [s["external_id"] for s in samples] == ["n1", "u1"]
    net, uvp = samples
    assert (net["objects"], uvp["objects"]) == (4, 3)
    assert (net["depth_min"], net["depth_max"]) == (10.0, 20.0)
    assert net["fields"]["tot_vol"] == 2.5
    assert [a["external_id"] for a in uvp["acquisitions"]] == ["u1_acq"]
    assert uvp["acquisitions"][0]["fields"]["volimage"] == 1.0
    assert uvp["acquisitions"][0]["objects"] == 3
    assert [p["external_id"] for p in net["processes"]] == ["zooprocess"]
    one = await ok(
        await wl.client.get(f"/v1/projects/{pid}/samples/{uvp['id']}", headers=bearer(admin)), 200
    )
    assert one == uvp

    # Abundance needs no volume: validated objects, detritus left out unless asked.
    abundance = await statistic(wl, admin, pid, "abundance")
    assert {(r["sample"], r["taxon"]): r["objects"] for r in abundance["rows"]} == {
        ("n1", "Copepoda"): 2,
        ("u1", "Copepoda"): 3,
    }
    assert abundance["scope"]["states"] == ["validated"]
    everything = await statistic(
        wl,
        admin,
        pid,
        "abundance",
        "state=validated&state=predicted&include_morphological=true",
    )
    assert {(r["sample"], r["taxon"]): r["objects"] for r in everything["rows"]} == {
        ("n1", "Copepoda"): 3,
        ("n1", "detritus"): 1,
        ("u1", "Copepoda"): 3,
    }

    # The profile has no images per depth bin yet: refused, saying what is missing and where
    # to give it.
    refused = await wl.client.get(
        f"/v1/projects/{pid}/statistics/concentration", headers=bearer(admin)
    )
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "sample u1" in detail
    assert "depth bin" in detail
    assert f"/v1/projects/{pid}/samples/{uvp['id']}/depth-bins" in detail
    assert refused.json()["fields"][0]["location"] == ["sample", "u1", "depth_bins"]

    # Only a manager gives them, and bins must not overlap.
    bins = {"bins": [{"depth_min": 10, "depth_max": 20, "images": 50}]}
    bins["bins"].insert(0, {"depth_min": 0, "depth_max": 10, "images": 100})
    viewer = user_token(wl.settings, "viewer-1", {pid: "viewer"})
    path = f"/v1/projects/{pid}/samples/{uvp['id']}/depth-bins"
    assert (await wl.client.put(path, json=bins, headers=bearer(viewer))).status_code == 403
    overlapping = {"bins": [*bins["bins"], {"depth_min": 15, "depth_max": 30, "images": 1}]}
    bad = await wl.client.put(path, json=overlapping, headers=bearer(admin))
    assert bad.status_code == 422, bad.text
    given = await ok(await wl.client.put(path, json=bins, headers=bearer(admin)), 200)
    assert [b["images"] for b in given["depth_bins"]] == [100, 50]

    concentration = await statistic(wl, admin, pid, "concentration")
    assert "acq_sub_part" in concentration["formula"]
    assert "acq_volimage" in concentration["formula"]
    assert set(concentration["inputs"]) >= {"sample_tot_vol_m3", "acq_volimage_l", "images"}
    rows = _by(concentration["rows"], "sample", "depth_min", "taxon")
    # Net: 2 copepods x 4 (a quarter imaged) / 2.5 m³.
    net_row = rows[("n1", 10.0, "Copepoda")]
    assert net_row["concentration_per_m3"] == pytest.approx(2 * 4 / 2.5)
    assert (net_row["sample_tot_vol_m3"], net_row["acq_sub_part"]) == (2.5, 4.0)
    assert net_row["sampled_volume_m3"] == pytest.approx(2.5 / 4)
    assert net_row["taxon_id"] == taxa["Copepoda"]
    # UVP: 2 copepods in 100 images of 1 litre in 0-10 m, 1 in 50 images in 10-20 m.
    shallow, deep = rows[("u1", 0.0, "Copepoda")], rows[("u1", 10.0, "Copepoda")]
    assert shallow["concentration_per_m3"] == pytest.approx(2 / (1.0 * 100 / 1000))
    assert (shallow["acq_volimage_l"], shallow["images"]) == (1.0, 100)
    assert deep["concentration_per_m3"] == pytest.approx(1 / (1.0 * 50 / 1000))
    assert len(rows) == 3

    biovolume = await statistic(wl, admin, pid, "biovolume")
    assert "4/3" in biovolume["formula"]
    assert "process_pixel" in biovolume["formula"]
    rows = _by(biovolume["rows"], "sample", "depth_min", "taxon")
    net_bv = ellipsoid(30, 10) + ellipsoid(20, 20)
    assert rows[("n1", 10.0, "Copepoda")]["biovolume_mm3"] == pytest.approx(net_bv)
    assert rows[("n1", 10.0, "Copepoda")]["biovolume_mm3_per_m3"] == pytest.approx(net_bv * 4 / 2.5)
    assert rows[("n1", 10.0, "Copepoda")]["pixel_mm"] == PIXEL_MM
    assert rows[("u1", 0.0, "Copepoda")]["biovolume_mm3_per_m3"] == pytest.approx(
        2 * ellipsoid(12, 6) * 1000 / (1.0 * 100)
    )
    by_area = await statistic(wl, admin, pid, "biovolume", "biovolume_from=area")
    assert "ESD" in by_area["formula"]
    rows = _by(by_area["rows"], "sample", "depth_min", "taxon")
    assert rows[("n1", 10.0, "Copepoda")]["biovolume_mm3"] == pytest.approx(
        sphere_of_area(200) + sphere_of_area(300)
    )

    # CSV and PNG like the camera-trap statistics.
    csv_text = (
        await wl.client.get(
            f"/v1/projects/{pid}/statistics/concentration?format=csv", headers=bearer(admin)
        )
    ).text
    table = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(table) == 3
    assert float(table[0]["concentration_per_m3"]) == pytest.approx(3.2)
    png = await wl.client.get(
        f"/v1/projects/{pid}/statistics/biovolume?format=png", headers=bearer(admin)
    )
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")

    # A sample of another project is named as such.
    other = await wl.client.get(
        f"/v1/projects/{pid}/statistics/abundance?sample_id={taxa['Copepoda']}",
        headers=bearer(admin),
    )
    assert other.status_code == 422, other.text

    # Copepods made sensitive: a viewer sees the samples at their grid cell's centre.
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy",
            json={"sensitive_taxa": [taxa["Copepoda"]], "coordinate_precision": 0.1},
            headers=bearer(admin),
        ),
        200,
    )
    centre = (43.65, 7.35)
    seen = await statistic(wl, viewer, pid, "abundance")
    assert all((r["latitude"], r["longitude"]) == pytest.approx(centre) for r in seen["rows"]), (
        seen["rows"]
    )
    listed = await ok(
        await wl.client.get(f"/v1/projects/{pid}/samples", headers=bearer(viewer)), 200
    )
    for sample in listed["items"]:
        assert sample["coordinates_generalised"] is True
        assert (sample["latitude"], sample["longitude"]) == pytest.approx(centre)
        assert (sample["fields"]["lat"], sample["fields"]["lon"]) == pytest.approx(centre)
    exact = await statistic(wl, admin, pid, "abundance")
    assert exact["rows"][0]["latitude"] == 43.685


async def test_an_object_project_exports_darwin_core_with_measurements_per_sample(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin, PLANKTON_TAXA)
    # Bins that overlap, or that name a sample with no objects beside them, refuse the bundle.
    refused = await new_project(wl, admin, "Bad bins")
    bad = b"sample_id\tdepth_min\tdepth_max\timages\nu1\t0\t10\t100\nu1\t5\t20\t7\n"
    bad += b"u1\t20\t30\tmany\nn1\t0\t10\t3\n"
    files = write_bundle(tmp_path / "bad", plankton_rows(), TYPES)
    done = await _job(wl, admin, refused, bundle_zip(files | {"u1/depth_bins.tsv": bad}))
    assert done["status"] == "failed"
    assert {(p["resource"], p["row"], p["field"]) for p in done["problems"]} == {
        ("u1/depth_bins.tsv", 3, "depth_min"),
        ("u1/depth_bins.tsv", 4, "images"),
        ("u1/depth_bins.tsv", 5, "sample_id"),
    }, done["problems"]

    pid = await import_plankton(
        wl, admin, tmp_path, "Point B archive", {"u1/depth_bins.tsv": DEPTH_BINS}
    )
    samples = (
        await ok(await wl.client.get(f"/v1/projects/{pid}/samples", headers=bearer(admin)), 200)
    )["items"]
    assert [s["depth_bins"] for s in samples] == [
        [],
        [
            {"depth_min": 0.0, "depth_max": 10.0, "images": 100},
            {"depth_min": 10.0, "depth_max": 20.0, "images": 50},
        ],
    ]
    with await export_zip(wl, admin, pid, "dwca") as archive:
        names = set(archive.namelist())
        meta = ET.fromstring(archive.read("meta.xml"))
        valid_eml(archive.read("eml.xml"))
        event_header, events = tab_separated(archive.read("event.txt"))
        _, occurrences = tab_separated(archive.read("occurrence.txt"))
        emof_header, measurements = tab_separated(archive.read("extendedmeasurementorfact.txt"))
        read_back = read_with_dwca_reader(archive, tmp_path)

    assert names == {
        "meta.xml",
        "eml.xml",
        "event.txt",
        "occurrence.txt",
        "extendedmeasurementorfact.txt",
    }
    # meta.xml declares the eMoF extension, its columns as the file has them.
    extensions = {
        e.findtext(f"{TEXT}files/{TEXT}location"): e for e in meta.iter(f"{TEXT}extension")
    }
    emof = extensions["extendedmeasurementorfact.txt"]
    assert emof.get("rowType") == "http://rs.iobis.org/obis/terms/ExtendedMeasurementOrFact"
    fields = {int(f.get("index", -1)): f.get("term", "") for f in emof.iter(f"{TEXT}field")}
    assert [fields[i].rsplit("/", 1)[1] for i in sorted(fields)] == emof_header
    core = meta.find(f"{TEXT}core")
    assert core is not None
    core_terms = [f.get("term", "").rsplit("/", 1)[1] for f in core.iter(f"{TEXT}field")]
    assert core_terms == event_header
    assert len(read_back) == len(occurrences) + len(measurements)

    # One event per sample, with its depth range and the water it sampled.
    by_event = {e["eventID"]: e for e in events}
    assert set(by_event) == {"n1", "u1"}
    assert (by_event["n1"]["minimumDepthInMeters"], by_event["n1"]["maximumDepthInMeters"]) == (
        "10.0",
        "20.0",
    )
    assert float(by_event["n1"]["sampleSizeValue"]) == pytest.approx(2.5 / 4)
    assert float(by_event["u1"]["sampleSizeValue"]) == pytest.approx(1.0 * 150 / 1000)
    assert by_event["u1"]["sampleSizeUnit"] == "cubic metre"
    assert float(by_event["n1"]["decimalLatitude"]) == 43.685

    # Occurrences per taxon and sample, validated objects only, no detritus.
    assert {(o["eventID"], o["scientificName"]): o["individualCount"] for o in occurrences} == {
        ("n1", "Copepoda"): "2",
        ("u1", "Copepoda"): "3",
    }

    # The measurements are the statistics' values for whole samples.
    concentration = await statistic(wl, admin, pid, "concentration", "by_depth_bin=false")
    biovolume = await statistic(wl, admin, pid, "biovolume", "by_depth_bin=false")
    expected = {
        (r["sample"], "concentration"): r["concentration_per_m3"] for r in concentration["rows"]
    } | {(r["sample"], "biovolume"): r["biovolume_mm3_per_m3"] for r in biovolume["rows"]}
    found = {
        (m["eventID"], m["measurementID"].rsplit(":", 1)[1]): float(m["measurementValue"])
        for m in measurements
    }
    assert found == pytest.approx(expected)
    assert found[("u1", "concentration")] == pytest.approx(3 / (1.0 * 150 / 1000))
    assert found[("n1", "concentration")] == pytest.approx(2 * 4 / 2.5)
    units = {m["measurementUnit"] for m in measurements}
    assert units == {"individuals per cubic metre", "cubic millimetres per cubic metre"}
    assert all("acq_sub_part" in m["measurementMethod"] for m in measurements)

    # The EcoTaxa export gives the bins back beside the profile's TSV.
    with await export_zip(wl, admin, pid, "ecotaxa") as bundle:
        back = bundle.read("u1/depth_bins.tsv").decode().splitlines()
        assert "n1/depth_bins.tsv" not in bundle.namelist()
    assert back[0].split("\t") == ["sample_id", "depth_min", "depth_max", "images"]
    assert [line.split("\t")[1:] for line in back[2:]] == [
        ["0.0", "10.0", "100"],
        ["10.0", "20.0", "50"],
    ]

    # A profile without its bins: the net sample keeps its measurements, the profile's event
    # says what it lacks.
    unbinned = await import_plankton(wl, admin, tmp_path, "No bins")
    with await export_zip(wl, admin, unbinned, "dwca") as archive:
        _, events = tab_separated(archive.read("event.txt"))
        _, measurements = tab_separated(archive.read("extendedmeasurementorfact.txt"))
    remarks = {e["eventID"]: e["eventRemarks"] for e in events}
    assert remarks["n1"] == ""
    assert "depth" in remarks["u1"]
    kinds = {(m["eventID"], m["measurementID"].rsplit(":", 1)[1]) for m in measurements}
    assert ("n1", "concentration") in kinds
    assert ("u1", "concentration") not in kinds


def _sized(object_id: str, sample: str, depth: float, **cells: str) -> EcoRow:
    row = _object(object_id, "disc", sample, depth, **_sizes(30, 10, 200))
    row.cells |= cells
    return row


async def test_pixel_sizes_are_read_in_the_unit_each_imager_writes(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    """ZooScan writes its pixel in micrometres (10.58), a UVP in millimetres in acq_pixel
    (0.088) with no process_pixel: both give biovolumes in mm³ of the right size."""
    await import_tree(wl.client, admin, PLANKTON_TAXA)
    pid = await new_project(wl, admin, "Pixel units")
    rows = [
        _sized("z_cop", "z1", 10, process_pixel="10.58"),
        _sized(
            "v_cop",
            "v1",
            5,
            process_pixel="",
            process_id="uvp_process",
            acq_pixel="0.088",
            acq_volimage="1.0",
            acq_instrument="UVP6",
            object_major="12",
            object_minor="6",
        ),
    ]
    files = write_bundle(tmp_path / "units", rows, TYPES | {"acq_pixel": "[f]"})
    done = await _job(wl, admin, pid, bundle_zip(files | {"v1/depth_bins.tsv": DEPTH_BINS}))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])

    biovolume = await statistic(wl, admin, pid, "biovolume", "by_depth_bin=false")
    by_sample = _by(biovolume["rows"], "sample")
    zooscan, uvp = by_sample[("z1",)], by_sample[("v1",)]
    # 4/3 π (30 * 0.01058 / 2) (10 * 0.01058 / 2)², worked out by hand.
    assert zooscan["biovolume_mm3"] == pytest.approx(0.00186027, rel=1e-5)
    assert (zooscan["pixel_size"], zooscan["pixel_column"], zooscan["pixel_unit"]) == (
        10.58,
        "process_pixel",
        "um",
    )
    assert zooscan["pixel_mm"] == pytest.approx(0.01058)
    # 4/3 π (12 * 0.088 / 2) (6 * 0.088 / 2)².
    assert uvp["biovolume_mm3"] == pytest.approx(0.154145, rel=1e-5)
    assert (uvp["pixel_size"], uvp["pixel_column"], uvp["pixel_unit"]) == (0.088, "acq_pixel", "mm")
    assert "process_pixel read in µm" in biovolume["inputs"]["pixel_mm"]
    assert "acq_pixel read in mm" in biovolume["inputs"]["pixel_mm"]
    assert biovolume["scope"]["pixel_unit"] is None

    # The caller may say the unit: micrometres everywhere makes the UVP's objects tiny.
    forced = await statistic(wl, admin, pid, "biovolume", "by_depth_bin=false&pixel_unit=um")
    uvp_um = _by(forced["rows"], "sample")[("v1",)]
    assert uvp_um["pixel_unit"] == "um"
    assert uvp_um["biovolume_mm3"] == pytest.approx(0.154145e-9, rel=1e-5)
    assert "pixel_unit=um asked" in forced["inputs"]["pixel_unit"]
    bad = await wl.client.get(
        f"/v1/projects/{pid}/statistics/biovolume?pixel_unit=inch", headers=bearer(admin)
    )
    assert bad.status_code == 422, bad.text


async def test_per_sample_statistics_are_refused_for_a_camera_trap_project(
    wl: RunningPlatform, admin: str
) -> None:
    pid = await new_project(wl, admin, "Camera traps")
    for name in ("abundance", "concentration", "biovolume"):
        refused = await wl.client.get(
            f"/v1/projects/{pid}/statistics/{name}", headers=bearer(admin)
        )
        assert refused.status_code == 422, refused.text
        assert "per-sample statistic of single objects" in refused.json()["detail"]
        assert refused.json()["fields"][0]["location"] == ["path", "name"]
    # The camera-trap statistics still answer.
    assert (await statistic(wl, admin, pid, "counts"))["name"] == "counts"
