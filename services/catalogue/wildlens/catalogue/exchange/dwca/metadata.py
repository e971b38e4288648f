"""The archive's descriptor (``meta.xml``) and its dataset metadata (``eml.xml``, EML 2.2.0
with GBIF's ``additionalMetadata`` block, what GBIF's IPT writes and reads)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wildlens.catalogue.exchange.coordinates import ExportCoordinates
from wildlens.catalogue.exchange.dwca.terms import (
    DWC,
    EMOF,
    EMOF_TERMS,
    EVENT_TERMS,
    OCCURRENCE_TERMS,
    term_uri,
)
from wildlens.catalogue.exchange.repository import ProjectSnapshot
from wildlens.catalogue.models import Project

__all__ = ["write_eml", "write_meta"]

_TEXT = "http://rs.tdwg.org/dwc/text/"
_EML = "https://eml.ecoinformatics.org/eml-2.2.0"
_ORCID = "https://orcid.org/"
# Camtrap DP roles of contributors who did not make the data: they are named, not creators.
_NOT_CREATORS = {"rightsHolder", "publisher"}
_ORGANISATION_ROLES = {"rightsHolder", "publisher"}


def _table(parent: ET.Element, tag: str, row_type: str, location: str, terms: list[str]) -> None:
    """One table of the archive; ``row_type`` a Darwin Core class's name, or a full URI."""
    table = ET.SubElement(
        parent,
        tag,
        {
            "encoding": "UTF-8",
            "fieldsTerminatedBy": "\\t",
            "linesTerminatedBy": "\\n",
            "fieldsEnclosedBy": "",
            "ignoreHeaderLines": "1",
            "rowType": row_type if "://" in row_type else f"{DWC}{row_type}",
        },
    )
    ET.SubElement(ET.SubElement(table, "files"), "location").text = location
    # Both tables start with the event's id: the core's own id, the extension's link to it.
    ET.SubElement(table, "id" if tag == "core" else "coreid", {"index": "0"})
    for index, term in enumerate(terms):
        ET.SubElement(table, "field", {"index": str(index), "term": term_uri(term)})


def write_meta(
    path: Path,
    event_terms: list[str] = EVENT_TERMS,
    *,
    measurements: bool = False,
) -> None:
    """The descriptor of the event core and its occurrence extension, and, with
    ``measurements``, of the extended MeasurementOrFact extension."""
    archive = ET.Element("archive", {"xmlns": _TEXT, "metadata": "eml.xml"})
    _table(archive, "core", "Event", "event.txt", event_terms)
    _table(archive, "extension", "Occurrence", "occurrence.txt", OCCURRENCE_TERMS)
    if measurements:
        _table(archive, "extension", EMOF, "extendedmeasurementorfact.txt", EMOF_TERMS)
    ET.indent(archive)
    ET.ElementTree(archive).write(path, encoding="utf-8", xml_declaration=True)


def _party(
    parent: ET.Element, tag: str, contributor: dict[str, Any], role: str | None = None
) -> None:
    """A Camtrap DP contributor as an EML responsible party: a person (given name, surname)
    with their organisation, or an organisation alone, then email, ORCID or web page."""
    party = ET.SubElement(parent, tag)
    title = str(contributor.get("title") or "").strip()
    organisation = str(contributor.get("organization") or "").strip()
    if title and title != organisation and not _is_organisation(contributor):
        person = ET.SubElement(party, "individualName")
        given, _, surname = title.partition(" ")
        if surname:
            ET.SubElement(person, "givenName").text = given
        ET.SubElement(person, "surName").text = surname or given
    if organisation or _is_organisation(contributor):
        ET.SubElement(party, "organizationName").text = organisation or title
    if contributor.get("email"):
        ET.SubElement(party, "electronicMailAddress").text = str(contributor["email"])
    path = str(contributor.get("path") or "")
    if path.startswith(_ORCID):
        ET.SubElement(party, "userId", {"directory": _ORCID}).text = path[len(_ORCID) :]
    elif path:
        ET.SubElement(party, "onlineUrl").text = path
    if role:
        ET.SubElement(party, "role").text = role


def _is_organisation(contributor: dict[str, Any]) -> bool:
    # Camtrap DP gives an organisation as a contributor with no person's name: its title is
    # the organisation itself, as for a rights holder or publisher.
    return contributor.get("role") in _ORGANISATION_ROLES or (
        contributor.get("title") == contributor.get("organization")
    )


def _project_creator(parent: ET.Element, tag: str, project: Project) -> None:
    """The platform account that made the project, where no person is named for it."""
    party = ET.SubElement(parent, tag)
    ET.SubElement(ET.SubElement(party, "individualName"), "surName").text = project.created_by
    ET.SubElement(party, "userId", {"directory": "wildlens"}).text = project.created_by


def _contributors(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in metadata.get("contributors") or [] if isinstance(c, dict) and c.get("title")]


def _licences(project: Project, metadata: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Each licence as (scope, name, url): the project's data licence (a manager may have
    changed it since the import), then the package's other ones (for its media)."""
    given = [
        (
            str(lic.get("scope") or "data"),
            str(lic.get("name") or lic.get("title") or lic.get("path")),
            str(lic.get("path") or ""),
        )
        for lic in metadata.get("licenses") or []
        if isinstance(lic, dict) and (lic.get("name") or lic.get("path"))
    ]
    data = [lic for lic in given if lic[0] == "data"]
    if project.data_license:
        data = [lic for lic in data if lic[1] == project.data_license] or [
            ("data", project.data_license, "")
        ]
    # A licence named by its SPDX id alone is found at SPDX's page for it.
    return [
        (scope, name, url or (name if "://" in name else f"https://spdx.org/licenses/{name}"))
        for scope, name, url in data + [lic for lic in given if lic[0] != "data"]
    ]


def _citation(project: Project, metadata: dict[str, Any], creators: list[str]) -> str:
    """The package's own citation, else one in the usual form: creators (year). Title."""
    given = metadata.get("bibliographicCitation")
    if isinstance(given, str) and given.strip():
        return given.strip()
    who = ", ".join(creators) or project.created_by
    return f"{who} ({project.created_at.year}). {project.name}. Camera-trap dataset."


def _taxonomic(coverage: ET.Element, metadata: dict[str, Any], snapshot: ProjectSnapshot) -> None:
    """The package's taxonomic list, and every other name the occurrences carry."""
    listed = [t for t in metadata.get("taxonomic") or [] if isinstance(t, dict)]
    names = {str(t.get("scientificName")) for t in listed if t.get("scientificName")}
    seen = sorted(
        {
            o.scientific_name
            for o in snapshot.observations
            if o.scientific_name and o.scientific_name not in names
        }
    )
    entries = [t for t in listed if t.get("scientificName")]
    entries += [{"scientificName": name} for name in seen]
    if not entries:
        return
    taxonomic = ET.SubElement(coverage, "taxonomicCoverage")
    for entry in entries:
        classification = ET.SubElement(taxonomic, "taxonomicClassification")
        if entry.get("taxonRank"):
            ET.SubElement(classification, "taxonRankName").text = str(entry["taxonRank"])
        ET.SubElement(classification, "taxonRankValue").text = str(entry["scientificName"])
        vernacular = entry.get("vernacularNames")
        for name in (vernacular or {}).values() if isinstance(vernacular, dict) else []:
            ET.SubElement(classification, "commonName").text = str(name)
        taxon_id = str(entry.get("taxonID") or "")
        if "://" in taxon_id:
            url = urlsplit(taxon_id)
            ET.SubElement(
                classification, "taxonId", {"provider": f"{url.scheme}://{url.netloc}"}
            ).text = taxon_id


def _dates(snapshot: ProjectSnapshot, metadata: dict[str, Any]) -> tuple[str, str] | None:
    """The dataset's first and last day: its deployments', else the package's own span."""
    if snapshot.deployments:
        start = min(d.start for d in snapshot.deployments)
        end = max(d.end or d.start for d in snapshot.deployments)
        return start.date().isoformat(), end.date().isoformat()
    temporal = metadata.get("temporal")
    if isinstance(temporal, dict) and temporal.get("start"):
        return str(temporal["start"]), str(temporal.get("end") or temporal["start"])
    return None


def write_eml(
    path: Path, project: Project, snapshot: ProjectSnapshot, coordinates: ExportCoordinates
) -> None:
    """``eml.xml``, valid against EML 2.2.0: the project's title, creators, licence and
    citation, with an imported Camtrap DP package's own metadata carried over (its title,
    description, contributors, licences, citation, keywords and coverage)."""
    metadata: dict[str, Any] = project.camtrapdp_metadata or {}
    contributors = _contributors(metadata)
    creators = [c for c in contributors if c.get("role") not in _NOT_CREATORS]
    eml = ET.Element(
        "eml:eml",
        {
            "xmlns:eml": _EML,
            "packageId": str(project.id),
            "system": "wildlens",
            "scope": "system",
            "xml:lang": "en",
        },
    )
    dataset = ET.SubElement(eml, "dataset")
    if metadata.get("id"):
        ET.SubElement(dataset, "alternateIdentifier").text = str(metadata["id"])
    ET.SubElement(dataset, "title").text = project.name
    source_title = str(metadata.get("title") or "")
    if source_title and source_title != project.name:
        ET.SubElement(dataset, "title").text = source_title
    for creator in creators:
        _party(dataset, "creator", creator)
    if not creators:
        _project_creator(dataset, "creator", project)
    _project_creator(dataset, "metadataProvider", project)
    for other in contributors:
        if other.get("role") in _NOT_CREATORS and other.get("role") != "publisher":
            _party(dataset, "associatedParty", other, str(other["role"]))
    ET.SubElement(dataset, "pubDate").text = project.created_at.date().isoformat()
    ET.SubElement(dataset, "language").text = "en"
    abstract = ET.SubElement(dataset, "abstract")
    paragraphs = [project.description, str(metadata.get("description") or "")]
    paragraphs = [p for p in dict.fromkeys(paragraphs) if p.strip()]
    for paragraph in paragraphs or [f"Camera-trap observations of the project {project.name}."]:
        ET.SubElement(abstract, "para").text = paragraph
    keywords = [str(k) for k in metadata.get("keywords") or [] if str(k).strip()]
    if keywords:
        keyword_set = ET.SubElement(dataset, "keywordSet")
        for keyword in keywords:
            ET.SubElement(keyword_set, "keyword").text = keyword
    licences = _licences(project, metadata)
    if licences:
        rights = ET.SubElement(dataset, "intellectualRights")
        for scope, name, url in licences:
            shown = f"{name} ({url})" if url != name else name
            ET.SubElement(rights, "para").text = f"{scope.capitalize()}: {shown}"
        for _, name, url in licences:
            licensed = ET.SubElement(dataset, "licensed")
            ET.SubElement(licensed, "licenseName").text = name
            if url:
                ET.SubElement(licensed, "url").text = url
    if metadata.get("homepage"):
        online = ET.SubElement(ET.SubElement(dataset, "distribution"), "online")
        ET.SubElement(online, "url", {"function": "information"}).text = str(metadata["homepage"])
    coverage = ET.Element("coverage")
    # The box is drawn around the places as this export shows them (generalised where the
    # caller may not see a sensitive place), never the package's own polygon, which is exact.
    places = [coordinates.place(loc) for loc in snapshot.locations.values()]
    if places:
        geographic = ET.SubElement(coverage, "geographicCoverage")
        ET.SubElement(geographic, "geographicDescription").text = "Camera-trap locations"
        box = ET.SubElement(geographic, "boundingCoordinates")
        ET.SubElement(box, "westBoundingCoordinate").text = str(min(p.longitude for p in places))
        ET.SubElement(box, "eastBoundingCoordinate").text = str(max(p.longitude for p in places))
        ET.SubElement(box, "northBoundingCoordinate").text = str(max(p.latitude for p in places))
        ET.SubElement(box, "southBoundingCoordinate").text = str(min(p.latitude for p in places))
    dates = _dates(snapshot, metadata)
    if dates:
        span = ET.SubElement(ET.SubElement(coverage, "temporalCoverage"), "rangeOfDates")
        ET.SubElement(ET.SubElement(span, "beginDate"), "calendarDate").text = dates[0]
        ET.SubElement(ET.SubElement(span, "endDate"), "calendarDate").text = dates[1]
    _taxonomic(coverage, metadata, snapshot)
    if len(coverage):
        dataset.append(coverage)
    contacts = [c for c in contributors if c.get("role") == "contact"]
    for contact in contacts:
        _party(dataset, "contact", contact)
    if not contacts:
        _project_creator(dataset, "contact", project)
    for publisher in [c for c in contributors if c.get("role") == "publisher"][:1]:
        _party(dataset, "publisher", publisher)
    methods = ET.SubElement(dataset, "methods")
    step = ET.SubElement(ET.SubElement(methods, "methodStep"), "description")
    ET.SubElement(step, "para").text = (
        "Camera traps; each deployment is a sampling event whose effort is its span in "
        "trap-nights. Machine labels are MachineObservation, people's HumanObservation."
    )
    source_project = metadata.get("project")
    if isinstance(source_project, dict) and source_project.get("samplingDesign"):
        ET.SubElement(step, "para").text = (
            f"Sampling design: {source_project['samplingDesign']}; capture methods: "
            f"{', '.join(map(str, source_project.get('captureMethod') or [])) or 'not given'}."
        )
    # GBIF's IPT reads the dataset's citation from here (its own block, as the IPT writes it).
    gbif = ET.SubElement(
        ET.SubElement(ET.SubElement(eml, "additionalMetadata"), "metadata"), "gbif"
    )
    ET.SubElement(gbif, "dateStamp").text = datetime.now(UTC).isoformat(timespec="seconds")
    ET.SubElement(gbif, "hierarchyLevel").text = "dataset"
    names = [str(c["title"]) for c in creators]
    ET.SubElement(gbif, "citation").text = _citation(project, metadata, names)
    ET.indent(eml)
    ET.ElementTree(eml).write(path, encoding="utf-8", xml_declaration=True)
