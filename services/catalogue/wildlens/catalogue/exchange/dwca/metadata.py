"""The archive's descriptor (``meta.xml``) and its dataset metadata (``eml.xml``, EML 2.1.1,
what GBIF's IPT writes)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from wildlens.catalogue.exchange.coordinates import ExportCoordinates
from wildlens.catalogue.exchange.dwca.terms import DWC, EVENT_TERMS, OCCURRENCE_TERMS, term_uri
from wildlens.catalogue.exchange.repository import ProjectSnapshot
from wildlens.catalogue.models import Project

__all__ = ["write_eml", "write_meta"]

_TEXT = "http://rs.tdwg.org/dwc/text/"
_EML = "https://eml.ecoinformatics.org/eml-2.1.1"


def _table(parent: ET.Element, tag: str, row_type: str, location: str, terms: list[str]) -> None:
    table = ET.SubElement(
        parent,
        tag,
        {
            "encoding": "UTF-8",
            "fieldsTerminatedBy": "\\t",
            "linesTerminatedBy": "\\n",
            "fieldsEnclosedBy": "",
            "ignoreHeaderLines": "1",
            "rowType": f"{DWC}{row_type}",
        },
    )
    ET.SubElement(ET.SubElement(table, "files"), "location").text = location
    # Both tables start with the event's id: the core's own id, the extension's link to it.
    ET.SubElement(table, "id" if tag == "core" else "coreid", {"index": "0"})
    for index, term in enumerate(terms):
        ET.SubElement(table, "field", {"index": str(index), "term": term_uri(term)})


def write_meta(path: Path) -> None:
    archive = ET.Element("archive", {"xmlns": _TEXT, "metadata": "eml.xml"})
    _table(archive, "core", "Event", "event.txt", EVENT_TERMS)
    _table(archive, "extension", "Occurrence", "occurrence.txt", OCCURRENCE_TERMS)
    ET.indent(archive)
    ET.ElementTree(archive).write(path, encoding="utf-8", xml_declaration=True)


def write_eml(
    path: Path, project: Project, snapshot: ProjectSnapshot, coordinates: ExportCoordinates
) -> None:
    eml = ET.Element(
        "eml:eml",
        {
            "xmlns:eml": _EML,
            "packageId": str(project.id),
            "system": "wildlens",
            "xml:lang": "en",
        },
    )
    dataset = ET.SubElement(eml, "dataset")
    ET.SubElement(dataset, "title").text = project.name
    creator = ET.SubElement(dataset, "creator")
    ET.SubElement(creator, "userId", {"directory": "wildlens"}).text = project.created_by
    ET.SubElement(dataset, "pubDate").text = project.created_at.date().isoformat()
    ET.SubElement(ET.SubElement(dataset, "abstract"), "para").text = (
        project.description or f"Camera-trap observations of the project {project.name}."
    )
    if project.data_license:
        rights = ET.SubElement(dataset, "intellectualRights")
        ET.SubElement(rights, "para").text = project.data_license
    coverage = ET.SubElement(dataset, "coverage")
    places = [coordinates.place(loc) for loc in snapshot.locations.values()]
    if places:
        geographic = ET.SubElement(coverage, "geographicCoverage")
        ET.SubElement(geographic, "geographicDescription").text = "Camera-trap locations"
        box = ET.SubElement(geographic, "boundingCoordinates")
        ET.SubElement(box, "westBoundingCoordinate").text = str(min(p.longitude for p in places))
        ET.SubElement(box, "eastBoundingCoordinate").text = str(max(p.longitude for p in places))
        ET.SubElement(box, "northBoundingCoordinate").text = str(max(p.latitude for p in places))
        ET.SubElement(box, "southBoundingCoordinate").text = str(min(p.latitude for p in places))
    if snapshot.deployments:
        temporal = ET.SubElement(coverage, "temporalCoverage")
        span = ET.SubElement(temporal, "rangeOfDates")
        start = min(d.start for d in snapshot.deployments)
        end = max(d.end or d.start for d in snapshot.deployments)
        ET.SubElement(
            ET.SubElement(span, "beginDate"), "calendarDate"
        ).text = start.date().isoformat()
        ET.SubElement(ET.SubElement(span, "endDate"), "calendarDate").text = end.date().isoformat()
    methods = ET.SubElement(dataset, "methods")
    step = ET.SubElement(ET.SubElement(methods, "methodStep"), "description")
    ET.SubElement(step, "para").text = (
        "Camera traps; each deployment is a sampling event whose effort is its span in "
        "trap-nights. Machine labels are MachineObservation, people's HumanObservation."
    )
    contact = ET.SubElement(dataset, "contact")
    ET.SubElement(contact, "userId", {"directory": "wildlens"}).text = project.created_by
    ET.indent(eml)
    ET.ElementTree(eml).write(path, encoding="utf-8", xml_declaration=True)
