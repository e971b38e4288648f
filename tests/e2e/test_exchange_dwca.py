"""The Darwin Core Archive for GBIF: meta.xml against the files, basisOfRecord by method,
sequences counted once, and absences from deployment effort; on both backends."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime

import pytest

from tests.e2e.test_exchange_coco import export_zip, import_example, new_project
from tests.e2e.test_exchange_megadetector import import_results, results
from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE
from tests.support.platform import RunningPlatform

TAXA_CSV = (
    "taxonID,parentNameUsageID,scientificName,taxonRank,vernacularName\n"
    "1,,Animalia,kingdom,Animals\n"
    "2,1,Aves,class,Birds\n"
    "3,2,Anatidae,family,Ducks\n"
    "4,3,Anas,genus,Dabbling ducks\n"
    "5,4,Anas platyrhynchos,species,Mallard\n"
    "6,2,Ardea cinerea,species,Grey heron\n"
    "7,1,Vulpes vulpes,species,Red fox\n"
)
TEXT = "{http://rs.tdwg.org/dwc/text/}"
DUCK_IMAGE = "20200709093328-RCNX0001.JPG"


# Imports and exports are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")


def tab_separated(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """A Darwin Core text file: its header and its rows."""
    text = data.decode("utf-8")
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def _expected_occurrences() -> tuple[dict[str, str], dict[str, set[str]]]:
    """From the example's own CSV: the observations that stand for their sequence (event-level
    ones where a sequence has them), and the names seen in each deployment."""
    with (EXAMPLE / "observations.csv").open(newline="") as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if r["observationType"] == "animal" and r["scientificName"]
        ]
    with_event_level = {r["eventID"] for r in rows if r["observationLevel"] == "event"}
    kept = {
        r["observationID"]: r["classificationMethod"]
        for r in rows
        if r["observationLevel"] == "event" or r["eventID"] not in with_event_level
    }
    seen: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        seen[r["deploymentID"]].add(r["scientificName"])
    return kept, seen


async def test_the_archive_describes_itself_and_records_absences(
    wl: RunningPlatform, admin: str
) -> None:
    h = bearer(admin)
    await ok(
        await wl.client.post(
            "/v1/taxa/import",
            files={"file": ("taxa.csv", TAXA_CSV.encode(), "text/csv")},
            headers=h,
        ),
        200,
    )
    page = await ok(await wl.client.get("/v1/taxa?limit=100", headers=h), 200)
    taxa = {t["scientific_name"]: t["id"] for t in page["items"]}
    pid = await new_project(wl, admin, "MICA for GBIF")
    await import_example(wl, admin, pid)
    expected = ["Anas", "Ardea cinerea", "Vulpes vulpes"]
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/taxa",
            json={"taxon_ids": [taxa[n] for n in expected]},
            headers=h,
        ),
        200,
    )
    # A machine's duck on one of the example's images.
    machine = results([DUCK_IMAGE, "20200709093328-RCNX0002.JPG", "x"])
    machine["images"] = machine["images"][:1]
    machine["images"][0]["detections"][0]["classifications"] = [["1", 0.8]]
    await ok(await import_results(wl, admin, pid, machine), 200)

    with await export_zip(wl, admin, pid, "dwca") as archive:
        names = set(archive.namelist())
        meta = ET.fromstring(archive.read("meta.xml"))
        eml = ET.fromstring(archive.read("eml.xml"))
        event_header, events = tab_separated(archive.read("event.txt"))
        occurrence_header, occurrences = tab_separated(archive.read("occurrence.txt"))

    assert names == {"meta.xml", "eml.xml", "event.txt", "occurrence.txt"}
    # meta.xml says which column holds which term, and the files agree with it.
    for tag, header, location in (
        ("core", event_header, "event.txt"),
        ("extension", occurrence_header, "occurrence.txt"),
    ):
        table = meta.find(f"{TEXT}{tag}")
        assert table is not None
        assert table.findtext(f"{TEXT}files/{TEXT}location") == location
        assert table.get("fieldsTerminatedBy") == "\\t"
        assert table.get("ignoreHeaderLines") == "1"
        fields = {int(f.get("index", -1)): f.get("term", "") for f in table.iter(f"{TEXT}field")}
        assert sorted(fields) == list(range(len(header)))
        for index, term in fields.items():
            assert term.rsplit("/", 1)[1] == header[index], (location, index)
        key = table.find(f"{TEXT}id" if tag == "core" else f"{TEXT}coreid")
        assert key is not None
        assert header[int(key.get("index", -1))] == "eventID"
    core = meta.find(f"{TEXT}core")
    assert core is not None
    assert core.get("rowType") == "http://rs.tdwg.org/dwc/terms/Event"
    assert eml.findtext("dataset/title") == "MICA for GBIF"

    # One sampling event per deployment, with its effort in trap-nights.
    with (EXAMPLE / "deployments.csv").open(newline="") as handle:
        deployments = {r["deploymentID"]: r for r in csv.DictReader(handle)}
    assert {e["eventID"] for e in events} == set(deployments)
    for event in events:
        source = deployments[event["eventID"]]
        start = datetime.fromisoformat(source["deploymentStart"])
        end = datetime.fromisoformat(source["deploymentEnd"])
        assert float(event["sampleSizeValue"]) == round((end - start).total_seconds() / 86400, 3)
        assert event["sampleSizeUnit"] == "trap-nights"
        assert float(event["decimalLatitude"]) == float(source["latitude"])
        assert event["eventDate"].startswith(source["deploymentStart"])

    present = [o for o in occurrences if o["occurrenceStatus"] == "present"]
    absent = [o for o in occurrences if o["occurrenceStatus"] == "absent"]
    kept, seen = _expected_occurrences()
    basis = {"human": "HumanObservation", "machine": "MachineObservation"}
    imported = {o["occurrenceID"]: o["basisOfRecord"] for o in present if o["occurrenceID"] in kept}
    assert imported == {key: basis[method] for key, method in kept.items()}
    assert "machine" in kept.values()
    machines = [o for o in present if o["occurrenceID"] not in kept]
    assert [(o["scientificName"], o["eventID"], o["basisOfRecord"]) for o in machines] == [
        ("Anas platyrhynchos", "00a2c20d", "MachineObservation")
    ]
    assert machines[0]["identificationVerificationStatus"] == "unverified"
    assert machines[0]["identifiedBy"] == "md_v5a.0.0.pt@v5a.0.0"
    assert all(o["identificationVerificationStatus"] for o in present)

    # Absences: each expected taxon not seen (itself or below) during a deployment's effort.
    seen["00a2c20d"].add("Anas platyrhynchos")
    wanted = set()
    for deployment, names_seen in ((d, seen.get(d, set())) for d in deployments):
        if "Anas platyrhynchos" not in names_seen and "Anas" not in names_seen:
            wanted.add((deployment, "Anas"))
        for name in ("Ardea cinerea", "Vulpes vulpes"):
            if name not in names_seen:
                wanted.add((deployment, name))
    assert {(o["eventID"], o["scientificName"]) for o in absent} == wanted
    assert ("00a2c20d", "Vulpes vulpes") in wanted
    assert all(o["individualCount"] == "0" for o in absent)
    assert {(o["eventID"], o["scientificName"]) for o in present} & wanted == set()
