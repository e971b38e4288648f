"""A project as a Camtrap DP 1.0.2 package (a folder, zipped by the export job).

Differences from an imported package, by design: rows the catalogue made itself get their
catalogue UUID as id; numbers are written in their shortest form (``1.30`` → ``1.3``);
deployment and media timestamps are written with the deployment's camera clock offset and
observation timestamps in UTC; media files the catalogue holds travel inside the package.
Privacy (``wildlens.catalogue.privacy``, through the job's ``ExportCoordinates``): sensitive
places are written generalised, with the generalisation's ``coordinateUncertainty`` and the
package's ``coordinatePrecision``, and media with people are left out where the job says so.
The media files are the originals only for a caller with ``precise_locations``; anyone else's
package carries the GPS-free display copies (``filePublic`` false where there is none yet, and
for videos).
"""

from __future__ import annotations

import csv
import json
import mimetypes
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.camtrapdp.fields import (
    DEPLOYMENT_FIELDS,
    MEDIA_FIELDS,
    OBSERVATION_FIELDS,
    render,
)
from wildlens.catalogue.exchange.camtrapdp.validation import PROFILE_URL, VERSION
from wildlens.catalogue.exchange.coordinates import ExportCoordinates, export_coordinates
from wildlens.catalogue.exchange.taxon_terms import authority_id, kingdoms
from wildlens.catalogue.models import Deployment, Project
from wildlens.catalogue.models.clock import parse_offset
from wildlens.catalogue.privacy import DISPLAY_CONTENT_TYPE, media_files
from wildlens.common.db import utcnow
from wildlens.common.storage import ObjectStore

__all__ = ["write_package"]

_PROFILE_DIR = Path(__file__).parent / "profile"
_SCHEMA_URL = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/{{}}-table-schema.json"

Progress = Callable[[float], Awaitable[None]]


def _columns(table: str) -> list[str]:
    schema = json.loads((_PROFILE_DIR / f"{table}-table-schema.json").read_text())
    return [field["name"] for field in schema["fields"]]


def _write(folder: Path, table: str, rows: list[dict[str, str]]) -> None:
    # Values are written exactly, a name starting with "=" included: the package has to stay
    # valid against the Camtrap DP schemas (whose patterns an apostrophe would break: ids,
    # media types) and to import again as it was, and its readers are programs (camtraptor,
    # frictionless, GBIF). An apostrophe against spreadsheet formulas would become part of the
    # data; the CSV export, made for spreadsheets, neutralises them instead.
    with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=_columns(table), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _fill(row: dict[str, str], obj: Any, fields: list[tuple[str, str, Any]]) -> None:
    for column, attribute, kind in fields:
        row[column] = render(getattr(obj, attribute), kind)


# Camtrap DP keys vernacular names by ISO 639-3 code; Darwin Core files often use ISO 639-1.
# Names in other languages than these are left out of the list.
_LANGUAGES = {
    "en": "eng",
    "nl": "nld",
    "fr": "fra",
    "de": "deu",
    "es": "spa",
    "it": "ita",
    "pt": "por",
    "da": "dan",
    "sv": "swe",
    "no": "nor",
    "nb": "nob",
    "fi": "fin",
    "pl": "pol",
    "cs": "ces",
    "hu": "hun",
    "ro": "ron",
    "el": "ell",
    "ru": "rus",
    "zh": "zho",
    "ja": "jpn",
    "ar": "ara",
}

# The ranks Camtrap DP's taxonomic list allows.
_RANKS = {"kingdom", "phylum", "class", "order", "family", "genus", "species", "subspecies"}


async def _taxonomic(
    session: AsyncSession, names: dict[str, uuid.UUID | None]
) -> list[dict[str, Any]]:
    """The package's taxonomic list: every name its observations carry, with the taxon's
    authority id, rank, kingdom and vernacular names where the name is linked to one."""
    ids = [i for i in names.values() if i is not None]
    taxa = await repository.taxa_by_id(session, ids) if ids else {}
    kingdom = await kingdoms(session, ids) if ids else {}
    listed: list[dict[str, Any]] = []
    for name, taxon_id in sorted(names.items()):
        entry: dict[str, Any] = {"scientificName": name}
        taxon = taxa.get(taxon_id) if taxon_id else None
        if taxon is not None:
            if authority_id(taxon):
                entry["taxonID"] = authority_id(taxon)
            if taxon.rank in _RANKS:
                entry["taxonRank"] = taxon.rank
            if taxon.id in kingdom:
                entry["kingdom"] = kingdom[taxon.id]
            codes = {code: _LANGUAGES.get(code, code) for code in taxon.vernacular_names}
            vernacular = {
                codes[code]: name
                for code, name in taxon.vernacular_names.items()
                if re.fullmatch("[a-z]{3}", codes[code])
            }
            if vernacular:
                entry["vernacularNames"] = vernacular
        listed.append(entry)
    return listed


def _metadata(
    project: Project,
    points: list[tuple[float, float]],
    deployments: list[Deployment],
    taxa: list[dict[str, Any]],
    levels: set[str],
    precision: float | None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = json.loads(json.dumps(project.camtrapdp_metadata))
    extra = metadata.pop("resources", [])
    metadata["profile"] = PROFILE_URL
    metadata["created"] = utcnow().isoformat().replace("+00:00", "Z")
    metadata.setdefault("name", f"wildlens-{project.id}")
    metadata.setdefault("title", project.name)
    if project.description:
        metadata.setdefault("description", project.description)
    metadata.setdefault("contributors", [{"title": project.created_by, "role": "contact"}])
    if project.data_license and not metadata.get("licenses"):
        licence = project.data_license
        # An identifier is the licence's name; a URL is where it is (Frictionless' path).
        key = "path" if licence.startswith(("http://", "https://")) else "name"
        # Camtrap DP wants licences for the data and for the media, or none; the project's
        # one licence is for what it publishes, its media as much as its records (imported
        # metadata that says otherwise is kept above).
        metadata["licenses"] = [{key: licence, "scope": scope} for scope in ("data", "media")]
    metadata.setdefault(
        "project",
        {
            "id": str(project.id),
            "title": project.name,
            "samplingDesign": "opportunistic",
            "captureMethod": ["activityDetection"],
            "individualAnimals": False,
            "observationLevel": sorted(levels) or ["media"],
        },
    )
    if precision is not None:
        # The package's coarsest coordinates; an imported extent could give the sites away.
        metadata["coordinatePrecision"] = max(precision, metadata.get("coordinatePrecision") or 0)
        metadata.pop("spatial", None)
    if "spatial" not in metadata and points:
        lats = [lat for lat, _ in points]
        lons = [lon for _, lon in points]
        west, east, south, north = min(lons), max(lons), min(lats), max(lats)
        metadata["spatial"] = {
            "type": "Polygon",
            "coordinates": [
                [[west, south], [east, south], [east, north], [west, north], [west, south]]
            ],
        }
    if "temporal" not in metadata and deployments:
        ends = [d.end or d.start for d in deployments]
        metadata["temporal"] = {
            "start": min(d.start for d in deployments).date().isoformat(),
            "end": max(ends).date().isoformat(),
        }
    # A project without deployments covers no time and no place, yet the profile requires
    # both: the day the package was made, and a collection of no geometries (not a point at
    # 0, 0, which would place the project in the Gulf of Guinea).
    today = utcnow().date().isoformat()
    metadata.setdefault("temporal", {"start": today, "end": today})
    metadata.setdefault("spatial", {"type": "GeometryCollection", "geometries": []})
    if "taxonomic" not in metadata:
        metadata["taxonomic"] = taxa
    resources: list[dict[str, Any]] = [
        {
            "name": table,
            "path": f"{table}.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": _SCHEMA_URL.format(table),
        }
        for table in ("deployments", "media", "observations")
    ]
    metadata["resources"] = resources + extra
    return metadata


async def write_package(
    session: AsyncSession,
    store: ObjectStore,
    project: Project,
    folder: Path,
    progress: Progress,
    coordinates: ExportCoordinates | None = None,
) -> None:
    """Write ``project`` as a Camtrap DP package (datapackage.json, CSVs, media) in ``folder``,
    as ``coordinates`` allow (by default: for publication, sensitive places generalised)."""
    pid = project.id
    if coordinates is None:
        coordinates = await export_coordinates(session, project, precise=False, public=True)
    locations = await repository.project_locations(session, pid)
    devices = {d.id: d for d in await repository.project_devices(session, pid)}
    deployments = await repository.deployments_by_start(session, pid)
    deployment_ids: dict[uuid.UUID, str] = {}
    deployment_rows: list[dict[str, str]] = []
    clocks = {}
    places = {loc.id: coordinates.place(loc) for loc in locations.values()}
    for d in deployments:
        ident = deployment_ids[d.id] = d.external_id or str(d.id)
        clock = clocks[d.id] = parse_offset(d.utc_offset)
        location, device = locations[d.location_id], devices[d.device_id]
        place = coordinates.place(location, d.coordinate_uncertainty)
        row = {
            "deploymentID": ident,
            "locationID": location.external_id or str(location.id),
            "locationName": location.name,
            "latitude": render(place.latitude, "float"),
            "longitude": render(place.longitude, "float"),
            "deploymentStart": render(d.start, "datetime", clock),
            "deploymentEnd": render(d.end or d.start, "datetime", clock),
            "cameraID": device.serial,
            "cameraModel": "-".join(p for p in (device.make, device.model) if p)
            if device.make and not device.model.startswith(device.make)
            else device.model,
        }
        _fill(row, d, DEPLOYMENT_FIELDS)
        if place.generalised:
            row["coordinateUncertainty"] = render(place.uncertainty_m, "int")
        deployment_rows.append(row)
    _write(folder, "deployments", deployment_rows)
    await progress(0.1)

    media = [m for m in await repository.deployed_media(session, pid) if coordinates.shows(m.id)]
    deployment_location = {d.id: d.location_id for d in deployments}
    media_ids: dict[uuid.UUID, str] = {}
    media_rows: list[dict[str, str]] = []
    # Originals only for a caller with precise_locations: anyone else's package carries the
    # GPS-free display copies, whatever the place (a later label can make it sensitive).
    files = await media_files(store, media, originals=coordinates.view.precise)
    for n, m in enumerate(media, start=1):
        assert m.deployment_id is not None
        media_ids[m.id] = m.external_id or str(m.id)
        path = m.file_path
        file = files[m.id]
        if m.object_key:
            # The file travels inside the package, where its recorded path says (or by hash).
            if not path or "://" in path or path.startswith(("/", "..")) or "/../" in path:
                extension = mimetypes.guess_extension(m.content_type) or ""
                path = f"media/{m.sha256}{extension}"
            if file.file == "display" and m.content_type != DISPLAY_CONTENT_TYPE:
                # A JPEG now: named so, beside (never over) a JPEG original of the same stem.
                path = f"{path}.jpg"
            if file.key is not None:
                target = folder / path
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    await store.download_to(file.key, target)
        row = {
            "mediaID": media_ids[m.id],
            "deploymentID": deployment_ids[m.deployment_id],
            "timestamp": render(m.captured_at, "datetime", clocks[m.deployment_id]),
            "filePath": path,
        }
        _fill(row, m, MEDIA_FIELDS)
        if file.file is not None:
            row["fileMediatype"] = file.content_type
        elif m.object_key:
            # A file the platform holds but this package may not carry (a video's original, a
            # display copy not made yet): not accessible to the package's readers.
            row["filePublic"] = render(False, "bool")
        if places[deployment_location[m.deployment_id]].generalised and m.exif_data:
            # The camera's own GPS fix would give the generalised place away; text that is
            # not JSON cannot be sorted through, so none of it goes.
            exif = (
                {k: v for k, v in m.exif_data.items() if not k.upper().startswith("GPS")}
                if isinstance(m.exif_data, dict)
                else None
            )
            row["exifData"] = render(exif, "json") if exif is not None else ""
        row["fileName"] = row["fileName"] or Path(path).name
        media_rows.append(row)
        if n % 500 == 0:
            await progress(0.1 + 0.6 * n / len(media))
    _write(folder, "media", media_rows)
    await progress(0.7)

    observations = await repository.observations_by_event_start(session, pid)
    media_deployment = {m.id: m.deployment_id for m in media}
    captured = {m.id: m.captured_at for m in media}
    media_event = {m.id: m.event_id for m in media}
    event_names = await repository.event_names(session, pid)
    observation_rows: list[dict[str, str]] = []
    taxa: dict[str, uuid.UUID | None] = {}
    levels: set[str] = set()
    for o in observations:
        deployment_id = o.deployment_id or (
            media_deployment.get(o.media_id) if o.media_id else None
        )
        if deployment_id is None or (o.media_id is not None and o.media_id not in media_ids):
            continue  # its media is not tied to a deployment, so not in the package
        row = {
            "observationID": o.external_id or str(o.id),
            "deploymentID": deployment_ids[deployment_id],
            "mediaID": media_ids[o.media_id] if o.media_id else "",
        }
        _fill(row, o, OBSERVATION_FIELDS)
        if not row["eventID"] and o.media_id is not None:
            # The sequence the observation's medium belongs to.
            event_id = media_event.get(o.media_id)
            row["eventID"] = event_names.get(event_id, "") if event_id else ""
        if not row["eventStart"] and o.media_id is not None:
            # Observations the catalogue made itself are about one medium, at its time.
            row["eventStart"] = row["eventEnd"] = render(captured[o.media_id], "datetime")
        if o.external_id is None and not row["classificationTimestamp"]:
            row["classificationTimestamp"] = render(o.classified_at, "datetime")
        if o.scientific_name and taxa.get(o.scientific_name) is None:
            taxa[o.scientific_name] = o.taxon_id
        levels.add(o.observation_level)
        observation_rows.append(row)
    _write(folder, "observations", observation_rows)
    await progress(0.8)

    points = [(p.latitude, p.longitude) for p in places.values()]
    # The package states the coarsest precision its coordinates have.
    precision = coordinates.view.precision if any(p.generalised for p in places.values()) else None
    taxonomic = await _taxonomic(session, taxa)
    metadata = _metadata(project, points, deployments, taxonomic, levels, precision)
    (folder / "datapackage.json").write_text(
        json.dumps(metadata, indent=2, ensure_ascii=False), encoding="utf-8"
    )
