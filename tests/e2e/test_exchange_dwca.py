"""The Darwin Core Archive for GBIF: meta.xml against the files, basisOfRecord by method,
sequences counted once, absences from deployment effort, the place on every occurrence, and an
eml.xml valid against EML 2.2.0 that carries the project's and its package's metadata; on both
backends."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
from dwca.read import DwCAReader
from lxml import etree

from tests.e2e.test_exchange_coco import export_zip, import_coco, import_example, new_project
from tests.e2e.test_exchange_megadetector import import_results, results
from tests.e2e.test_taxa import import_tree
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
EML_SCHEMA = Path(__file__).parents[1] / "data" / "eml" / "eml.xsd"
EML = "{https://eml.ecoinformatics.org/eml-2.2.0}eml"
DUCK_IMAGE = "20200709093328-RCNX0001.JPG"


# Imports and exports are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")


def tab_separated(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """A Darwin Core text file: its header and its rows."""
    text = data.decode("utf-8")
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


@cache
def _eml_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(EML_SCHEMA)))


def valid_eml(data: bytes) -> ET.Element:
    """``eml.xml`` checked against the EML 2.2.0 schemas (as GBIF's IPT checks it), parsed."""
    document = etree.fromstring(data)
    schema = _eml_schema()
    assert schema.validate(document), [str(e) for e in schema.error_log]
    root = ET.fromstring(data)
    assert root.tag == EML
    return root


def read_with_dwca_reader(archive: zipfile.ZipFile, folder: Path) -> list[dict[str, str]]:
    """The archive as python-dwca-reader reads it: its occurrences, by their terms' names."""
    path = folder / "archive.zip"
    with zipfile.ZipFile(path, "w") as copy:
        for name in archive.namelist():
            copy.writestr(name, archive.read(name))
    with DwCAReader(str(path)) as reader:
        assert reader.metadata is not None
        return [
            {term.rsplit("/", 1)[1]: value for term, value in extension.data.items()}
            for core in reader
            for extension in core.extensions
        ]


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
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    h = bearer(admin)
    taxa = await import_tree(wl.client, admin, TAXA_CSV)
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
        eml = valid_eml(archive.read("eml.xml"))
        event_header, events = tab_separated(archive.read("event.txt"))
        occurrence_header, occurrences = tab_separated(archive.read("occurrence.txt"))
        read_back = read_with_dwca_reader(archive, tmp_path)

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

    # Every occurrence, present or absent, says where it was, as python-dwca-reader reads it.
    assert len(read_back) == len(occurrences)
    place = {e["eventID"]: (e["decimalLatitude"], e["decimalLongitude"]) for e in events}
    for row in read_back:
        source = deployments[row["eventID"]]
        assert float(row["decimalLatitude"]) == float(source["latitude"])
        assert float(row["decimalLongitude"]) == float(source["longitude"])
        assert (row["decimalLatitude"], row["decimalLongitude"]) == place[row["eventID"]]
        assert row["geodeticDatum"] == "EPSG:4326"

    # The package's own metadata is carried over into eml.xml.
    package = json.loads((EXAMPLE / "datapackage.json").read_text())
    dataset = eml.find("dataset")
    assert dataset is not None
    assert [t.text for t in dataset.findall("title")] == ["MICA for GBIF", package["title"]]
    assert dataset.findtext("alternateIdentifier") == package["id"]
    people = [
        c for c in package["contributors"] if c.get("role") not in ("rightsHolder", "publisher")
    ]
    assert [c.findtext("individualName/surName") for c in dataset.findall("creator")] == [
        c["title"].split(" ", 1)[1] for c in people
    ]
    assert dataset.findtext("creator/individualName/givenName") == "Axel"
    assert dataset.findtext("creator/userId") == "0000-0003-0272-9180"
    assert dataset.findtext("contact/individualName/surName") == "Desmet"
    assert dataset.findtext("publisher/organizationName") == (
        "Research Institute for Nature and Forest (INBO)"
    )
    assert dataset.findtext("associatedParty/role") == "rightsHolder"
    assert [p.text for p in dataset.findall("abstract/para")] == [package["description"]]
    assert {k.text for k in dataset.findall("keywordSet/keyword")} == set(package["keywords"])
    assert [
        (lic.findtext("licenseName"), lic.findtext("url")) for lic in dataset.findall("licensed")
    ] == [
        ("CC0-1.0", "https://spdx.org/licenses/CC0-1.0"),
        (package["licenses"][1]["path"], package["licenses"][1]["path"]),
    ]
    assert [p.text for p in dataset.findall("intellectualRights/para")] == [
        "Data: CC0-1.0 (https://spdx.org/licenses/CC0-1.0)",
        "Media: http://creativecommons.org/licenses/by/4.0/",
    ]
    citation = eml.findtext("additionalMetadata/metadata/gbif/citation")
    assert citation == package["bibliographicCitation"]
    taxa_listed = {
        c.findtext("taxonRankValue"): (c.findtext("taxonRankName"), c.findtext("taxonId"))
        for c in dataset.iter("taxonomicClassification")
    }
    for taxon in package["taxonomic"]:
        assert taxa_listed[taxon["scientificName"]] == (taxon["taxonRank"], taxon["taxonID"])
    span = dataset.find("coverage/temporalCoverage/rangeOfDates")
    assert span is not None
    starts = sorted(d["deploymentStart"][:10] for d in deployments.values())
    ends = sorted(d["deploymentEnd"][:10] for d in deployments.values())
    assert span.findtext("beginDate/calendarDate") == starts[0]
    assert span.findtext("endDate/calendarDate") == ends[-1]
    box = dataset.find("coverage/geographicCoverage/boundingCoordinates")
    assert box is not None
    latitudes = [float(d["latitude"]) for d in deployments.values()]
    assert float(box.findtext("northBoundingCoordinate") or "nan") == max(latitudes)


async def test_a_project_of_its_own_publishes_its_country_place_and_citation(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    """A project made on the platform: countries from its locations, coordinates on every
    occurrence, and an eml.xml from the project alone (no package behind it)."""
    h = bearer(admin)
    created = await ok(
        await wl.client.post(
            "/v1/projects",
            json={
                "name": "Ponds of Flanders",
                "description": "Herons at ponds.",
                "data_license": "CC-BY-4.0",
            },
            headers=h,
        ),
        201,
    )
    pid = created["id"]
    # One location knows its country (a subdivision code), the others do not: one lies in
    # Belgium, the other far out at sea.
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/locations",
            json={"name": "pond", "latitude": 51.05, "longitude": 3.72, "region": "be-vlg"},
            headers=h,
        ),
        201,
    )
    image = {"width": 100, "height": 50, "datetime": "2021-04-01 10:00:00"}
    document = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "location": "pond", **image},
            {
                "id": 2,
                "file_name": "b.jpg",
                "location": "ridge",
                "latitude": 50.5,
                "longitude": 4.5,
                **image,
            },
            {
                "id": 3,
                "file_name": "c.jpg",
                "location": "buoy",
                "latitude": 0.5,
                "longitude": -30.5,
                **image,
            },
        ],
        "categories": [{"id": 1, "name": "Ardea cinerea"}],
        "annotations": [
            {"id": "a1", "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
            {"id": "a2", "image_id": 2, "category_id": 1, "bbox": [10, 10, 20, 20]},
            {"id": "a3", "image_id": 3, "category_id": 1, "bbox": [10, 10, 20, 20]},
        ],
    }
    await ok(await import_coco(wl, admin, pid, document), 200)

    with await export_zip(wl, admin, pid, "dwca") as archive:
        eml = valid_eml(archive.read("eml.xml"))
        _, occurrences = tab_separated(archive.read("occurrence.txt"))
        read_back = read_with_dwca_reader(archive, tmp_path)

    places = {(o["countryCode"], o["decimalLatitude"], o["decimalLongitude"]) for o in occurrences}
    assert places == {("BE", "51.05", "3.72"), ("BE", "50.5", "4.5"), ("", "0.5", "-30.5")}
    assert {(o["countryCode"], o["decimalLatitude"]) for o in read_back} == {
        ("BE", "51.05"),
        ("BE", "50.5"),
        ("", "0.5"),
    }

    dataset = eml.find("dataset")
    assert dataset is not None
    assert [t.text for t in dataset.findall("title")] == ["Ponds of Flanders"]
    assert dataset.findtext("creator/individualName/surName") == created["created_by"]
    assert dataset.findtext("contact/userId") == created["created_by"]
    assert [p.text for p in dataset.findall("abstract/para")] == ["Herons at ponds."]
    assert [
        (lic.findtext("licenseName"), lic.findtext("url")) for lic in dataset.findall("licensed")
    ] == [("CC-BY-4.0", "https://spdx.org/licenses/CC-BY-4.0")]
    citation = eml.findtext("additionalMetadata/metadata/gbif/citation") or ""
    assert citation.startswith(f"{created['created_by']} (")
    assert "Ponds of Flanders" in citation
    assert [c.findtext("taxonRankValue") for c in dataset.iter("taxonomicClassification")] == [
        "Ardea cinerea"
    ]
