"""A Camtrap DP package into a project, all or nothing.

The package is validated first (frictionless against the official profile, offline, plus the
checks the profile cannot make), and every problem is reported at once. Rows are then upserted
by their Camtrap DP ids (``external_id``): importing the same package again updates what is
there instead of duplicating it. Everything happens in the caller's session, so a failure
commits nothing.

Media files that come inside the package (``media/...``) are stored under their content
address and recorded here directly, not sent through ingest: the package already says which
deployment each file belongs to and when it was taken, and going through ingest would
re-derive both from EXIF and split the import over several transactions. Ingest owns stored
originals all the same, so each medium with a file from the package is announced to it as
``media.imported`` in the import's transaction: ingest then holds the original as it holds an
upload's and makes its thumbnail and GPS-free display copy, which is all that callers without
``precise_locations`` are given.
"""

from __future__ import annotations

import bisect
import hashlib
import mimetypes
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.camtrapdp.fields import (
    DEPLOYMENT_FIELDS,
    MEDIA_FIELDS,
    OBSERVATION_FIELDS,
    Kind,
    offset_text,
    parse,
    parse_datetime,
)
from wildlens.catalogue.exchange.camtrapdp.matching import find_existing
from wildlens.catalogue.exchange.camtrapdp.validation import validate_descriptor
from wildlens.catalogue.exchange.columns import column_length
from wildlens.catalogue.exchange.matching import ImportMatch, MatchRule
from wildlens.catalogue.exchange.problems import MAX_LISTED, FileProblem
from wildlens.catalogue.exchange.uploads import whole_file_too_large
from wildlens.catalogue.models import Deployment, Device, Location, Media, Observation, Project
from wildlens.catalogue.sequences.importing import group_imported
from wildlens.catalogue.taxa.names import NameLinker, listed_taxa
from wildlens.catalogue.taxa.resolution import NameResolver
from wildlens.common.errors import Invalid
from wildlens.common.events.v1.media_pb2 import MediaImported, MediaKind
from wildlens.common.importing import json_text_problems, parse_json, read_csv, row_problems
from wildlens.common.offload import StopFlag, let_others_run, run_stoppable
from wildlens.common.service import ServiceBus
from wildlens.common.settings import LimitSettings
from wildlens.common.storage import ObjectStore

__all__ = ["CAMTRAP_TABLES", "ImportSummary", "import_package"]

CAMTRAP_TABLES = ("deployments", "media", "observations")
MERGED_BY_RULE = frozenset({MatchRule.CAMERA_AND_SPAN, MatchRule.SAME_MEDIA})
_TIMESTAMPS = {
    "deployments": ("deploymentStart", "deploymentEnd"),
    "media": ("timestamp",),
    "observations": ("eventStart", "eventEnd", "classificationTimestamp"),
}


class ImportSummary(BaseModel):
    """What an import created and updated, per table."""

    created: dict[str, int]
    updated: dict[str, int]
    # Records the file had that were already there exactly so.
    unchanged: dict[str, int] = {}
    media_files_stored: int
    # Records found to be ones the project had, other than by their id in an earlier import.
    matches: list[ImportMatch] = []
    # Names the file gave that nothing could be matched to, imported unlinked where the
    # caller accepted them.
    unmatched: list[str] = []


@dataclass
class _Package:
    folder: Path
    descriptor: dict[str, Any]
    rows: dict[str, list[dict[str, str]]]


def _names(model: Any, fields: list[tuple[str, str, Kind]]) -> dict[str, int | None]:
    return {
        column: column_length(model, attribute)
        for column, attribute, kind in fields
        if kind == "str"
    }


# The columns stored as text, with the lengths of the columns they fill.
_STORED_TEXT: dict[str, dict[str, int | None]] = {
    "deployments": {
        "deploymentID": column_length(Deployment, "external_id"),
        "locationID": column_length(Location, "external_id"),
        "locationName": column_length(Location, "name"),
        "cameraID": column_length(Device, "serial"),
        "cameraModel": column_length(Device, "model"),
        **_names(Deployment, DEPLOYMENT_FIELDS),
    },
    "media": {
        "mediaID": column_length(Media, "external_id"),
        "deploymentID": column_length(Deployment, "external_id"),
        "filePath": column_length(Media, "file_path"),
        "eventID": column_length(Observation, "event_external_id"),
        **_names(Media, MEDIA_FIELDS),
    },
    "observations": {
        "observationID": column_length(Observation, "external_id"),
        "deploymentID": column_length(Deployment, "external_id"),
        "mediaID": column_length(Media, "external_id"),
        **_names(Observation, OBSERVATION_FIELDS),
    },
}


def _imported(media: Media) -> MediaImported:
    return MediaImported(
        media_id=str(media.id),
        project_id=str(media.project_id),
        sha256=media.sha256,
        object_key=media.object_key,
        content_type=media.content_type,
        kind=MediaKind.MEDIA_KIND_VIDEO if media.kind == "video" else MediaKind.MEDIA_KIND_IMAGE,
    )


def _read_descriptor(path: Path, limits: LimitSettings, stop: StopFlag) -> dict[str, Any]:
    if path.stat().st_size > limits.json_file_bytes:
        raise whole_file_too_large("datapackage.json", limits, "json")
    descriptor = parse_json(path.read_bytes(), "datapackage.json", limits)
    if not isinstance(descriptor, dict):
        raise Invalid("datapackage.json is not a JSON object")
    # Its metadata is stored as it came.
    found = json_text_problems(descriptor, "datapackage.json", limits, stop)
    if found:
        raise Invalid(
            f"datapackage.json has {len(found)} problem(s); nothing was imported",
            fields=[
                FileProblem.at(
                    "datapackage.json",
                    message,
                    type="camtrap-dp",
                    field=".".join(str(p) for p in where) or None,
                )
                for where, message in found[:MAX_LISTED]
            ],
        )
    return descriptor


def _read(stop: StopFlag, folder: Path, limits: LimitSettings) -> _Package:
    path = folder / "datapackage.json"
    if not path.is_file():
        raise Invalid("the package has no datapackage.json")
    descriptor = _read_descriptor(path, limits, stop)
    resources = {r.get("name"): r for r in descriptor.get("resources", []) if isinstance(r, dict)}
    missing: list[FileProblem] = []
    rows: dict[str, list[dict[str, str]]] = {}
    # The tables are read (within the limits) before frictionless reads them again.
    for name in CAMTRAP_TABLES:
        resource = resources.get(name)
        table_path = resource.get("path") if resource else None
        if not isinstance(table_path, str):
            missing.append(FileProblem.at(name, f"no {name} table (path)", type="camtrap-dp"))
            continue
        source = (folder / table_path).resolve()
        if not source.is_relative_to(folder.resolve()) or not source.is_file():
            continue  # frictionless reports it
        if source.stat().st_size > limits.csv_file_bytes:
            raise whole_file_too_large(f"the {name} table", limits, "csv")
        try:
            text = source.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # frictionless reports it
        _header, table = read_csv(text, f"the {name} table", limits, stop)
        # Cells past the header (under None) are frictionless's to report.
        rows[name] = [cast(dict[str, str], row) for _line, row in table]
    problems = validate_descriptor(path, stop=stop) + missing
    # What the profile cannot say: text fit to store, and a timestamp carrying its offset.
    for name, table_rows in rows.items():
        for number, row in enumerate(table_rows, start=2):
            for column, message in row_problems(row, _STORED_TEXT[name]):
                problems.append(
                    FileProblem.at(name, message, type="camtrap-dp", row=number, field=column)
                )
    for name, columns in _TIMESTAMPS.items():
        for number, row in enumerate(rows.get(name, []), start=2):
            for column in columns:
                value = row.get(column) or ""
                if not value:
                    continue
                try:
                    parse_datetime(value)
                except ValueError as error:
                    if "offset" in str(error):
                        problems.append(
                            FileProblem.at(
                                name, str(error), type="camtrap-dp", row=number, field=column
                            )
                        )
    if problems:
        raise Invalid(
            f"the Camtrap DP package has {len(problems)} problem(s); nothing was imported",
            fields=problems[:MAX_LISTED],
        )
    return _Package(folder, descriptor, rows)


def _assign(row_obj: Any, row: dict[str, str], fields: list[tuple[str, str, Kind]]) -> None:
    for column, attribute, kind in fields:
        if column in row:
            setattr(row_obj, attribute, parse(row[column] or "", kind))


def _clock(deployment_row: dict[str, str], media_rows: list[dict[str, str]]) -> str:
    """The camera clock's offset: the one its timestamps carry most often (cameras ignore
    daylight saving, so one deployment's timestamps share an offset)."""
    stamps = [deployment_row["deploymentStart"], deployment_row["deploymentEnd"]]
    stamps += [m["timestamp"] for m in media_rows]
    offsets = Counter(offset_text(parse_datetime(s)) for s in stamps if s)
    return offsets.most_common(1)[0][0]


@dataclass(frozen=True)
class _File:
    path: Path
    sha256: str
    size: int


def _files(stop: StopFlag, folder: Path, media_rows: list[dict[str, str]]) -> dict[str, _File]:
    """The files the package brings, by media id: those its relative paths name."""
    root = folder.resolve()
    found: dict[str, _File] = {}
    for row in media_rows:
        local = (root / row["filePath"]).resolve()
        if "://" in row["filePath"] or not local.is_relative_to(root) or not local.is_file():
            continue
        digest = hashlib.sha256()
        with local.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                stop.check()
                digest.update(chunk)
        found[row["mediaID"]] = _File(local, digest.hexdigest(), local.stat().st_size)
    return found


def _events_by_span(
    media_rows: list[dict[str, str]],
    observation_rows: list[dict[str, str]],
    known: dict[str, str],
) -> dict[str, str]:
    """Media id → the eventID of the event-level observation whose span (eventStart to
    eventEnd, at its deployment) holds the medium's timestamp, for media ``known`` lacks."""
    times: dict[str, list[tuple[datetime, str]]] = {}
    for m in media_rows:
        if m["mediaID"] not in known:
            stamp = parse_datetime(m["timestamp"])
            times.setdefault(m["deploymentID"], []).append((stamp, m["mediaID"]))
    for stamps in times.values():
        stamps.sort()
    found: dict[str, str] = {}
    for row in observation_rows:
        stamps = times.get(row["deploymentID"], [])
        if row.get("mediaID") or not row.get("eventID") or not stamps:
            continue
        if not row.get("eventStart") or not row.get("eventEnd"):
            continue
        start, end = parse_datetime(row["eventStart"]), parse_datetime(row["eventEnd"])
        first = bisect.bisect_left(stamps, start, key=lambda s: s[0])
        for stamp, media_id in stamps[first:]:
            if stamp > end:
                break
            found.setdefault(media_id, row["eventID"])
    return found


async def import_package(
    session: AsyncSession,
    store: ObjectStore,
    bus: ServiceBus,
    project: Project,
    folder: Path,
    *,
    resolver: NameResolver | None = None,
    limits: LimitSettings | None = None,
) -> ImportSummary:
    """Import the unpacked package in ``folder`` into ``project`` (in ``session``, the media
    with files from the package announced on ``bus``'s outbox); names nothing else knows are
    asked of ``resolver``, the platform's online checklist."""
    limits = limits or LimitSettings()
    package = await run_stoppable(_read, folder, limits)
    created: Counter[str] = Counter()
    updated: Counter[str] = Counter()
    pid = project.id

    metadata = {k: v for k, v in package.descriptor.items() if k != "resources"}
    # Resources beyond the three tables survive when they carry their data inline.
    extra = [
        r
        for r in package.descriptor.get("resources", [])
        if isinstance(r, dict) and r.get("name") not in CAMTRAP_TABLES and "data" in r
    ]
    if extra:
        metadata["resources"] = extra
    project.camtrapdp_metadata = metadata
    for licence in metadata.get("licenses", []):
        if isinstance(licence, dict) and licence.get("scope") == "data":
            project.data_license = str(licence.get("name") or licence.get("path") or "")[:300]
    session.add(project)

    deployment_rows = package.rows["deployments"]
    media_rows = package.rows["media"]
    observation_rows = package.rows["observations"]
    media_by_deployment: dict[str, list[dict[str, str]]] = {}
    for m in media_rows:
        media_by_deployment.setdefault(m["deploymentID"], []).append(m)

    # The files the package brings, hashed first: their content finds the media (and through
    # them the deployments) the project already has.
    files = await run_stoppable(_files, package.folder, media_rows)
    existing = await find_existing(
        session, pid, deployment_rows, media_rows, {m: f.sha256 for m, f in files.items()}
    )
    deployments = existing.deployments

    # Locations: by locationID, else by name and coordinates.
    locations = await repository.by_external_id_at_once(
        session, Location, pid, {r["locationID"] for r in deployment_rows if r.get("locationID")}
    )
    unnamed = {
        (loc.name, loc.latitude, loc.longitude): loc
        for loc in await repository.unnamed_locations(session, pid)
    }
    devices = {d.serial: d for d in await repository.project_devices(session, pid)}
    for row in deployment_rows:
        lat, lon = float(row["latitude"]), float(row["longitude"])
        name = row.get("locationName") or row.get("locationID") or f"{lat}, {lon}"
        external = row.get("locationID") or None
        location = locations.get(external) if external else unnamed.get((name, lat, lon))
        if location is None:
            location = Location(project_id=pid, name=name, latitude=lat, longitude=lon)
            location.external_id = external
            created["locations"] += 1
            if external:
                locations[external] = location
            else:
                unnamed[(name, lat, lon)] = location
        location.name, location.latitude, location.longitude = name, lat, lon
        session.add(location)

        start = parse(row["deploymentStart"], "datetime")
        end = parse(row["deploymentEnd"], "datetime")
        deployment = deployments.get(row["deploymentID"])
        # A deployment the project made itself, found by its camera or its photos, keeps its
        # camera (its gateway's token and its uploads name it) and grows to cover both spans.
        merged = existing.rule("deployments", row["deploymentID"]) in MERGED_BY_RULE
        device: Device | None = None
        if not merged:
            # A camera per cameraID; deployments without one share the camera with no serial.
            serial = row.get("cameraID") or ""
            device = devices.get(serial)
            if device is None:
                device = devices[serial] = Device(project_id=pid, serial=serial)
                created["devices"] += 1
            if row.get("cameraModel"):
                device.model = row["cameraModel"]
            session.add(device)
        await session.flush()

        if deployment is None:
            assert device is not None  # only a deployment the project had is merged
            deployment = Deployment(
                project_id=pid, location_id=location.id, device_id=device.id, start=start
            )
            deployment.external_id = row["deploymentID"]
            deployments[row["deploymentID"]] = deployment
            created["deployments"] += 1
        else:
            updated["deployments"] += 1
        deployment.location_id = location.id
        if merged:
            start = min(start, deployment.start)
            end = None if end is None or deployment.end is None else max(end, deployment.end)
        elif device is not None:
            deployment.device_id = device.id
        deployment.start, deployment.end = start, end
        deployment.utc_offset = _clock(row, media_by_deployment.get(row["deploymentID"], []))
        _assign(deployment, row, DEPLOYMENT_FIELDS)
        session.add(deployment)
    await session.flush()

    media_by_id = existing.media
    # Deployments media were taken out of, to be regrouped without them.
    left: set[uuid.UUID] = set()
    stored = 0
    brought: list[Media] = []
    for number, row in enumerate(media_rows):
        await let_others_run(number)
        deployment = deployments[row["deploymentID"]]
        media = media_by_id.get(row["mediaID"])
        if media is None:
            media = Media(
                id=uuid.uuid4(), project_id=pid, sha256="", object_key="", content_type=""
            )
            media.external_id = row["mediaID"]
            media_by_id[row["mediaID"]] = media
            created["media"] += 1
        else:
            updated["media"] += 1
            if media.deployment_id not in (None, deployment.id):
                left.add(media.deployment_id)
        media.deployment_id, media.device_id = deployment.id, deployment.device_id
        media.captured_at = parse(row["timestamp"], "datetime")
        media.captured_at_source = "camtrap-dp"
        media.resolution_issue = ""
        media.file_path = row["filePath"]
        media.kind = "video" if row["fileMediatype"].startswith("video/") else "image"
        _assign(media, row, MEDIA_FIELDS)
        file = files.get(row["mediaID"])
        if file is not None and not (media.sha256 == file.sha256 and media.object_key):
            extension = file.path.suffix.lower().lstrip(".") or (
                (mimetypes.guess_extension(media.content_type) or ".bin").lstrip(".")
            )
            key = f"media/{file.sha256[:2]}/{file.sha256}.{extension}"
            # Written even where the same bytes are stored already: an original that nothing
            # holds yet (an upload cut off before its commit) is swept by ingest once it is old
            # enough, and the fresh write makes it new again until ``media.imported`` holds it.
            await store.put_file(key, file.path, media.content_type)
            media.sha256, media.object_key, media.size_bytes = file.sha256, key, file.size
            stored += 1
        if file is not None and media.object_key:
            brought.append(media)
        session.add(media)
    await session.flush()
    # Every medium with a file from the package, also one stored by an earlier import of it:
    # ingest holds each once, and an image whose display copy is missing gets it made.
    await bus.stage(session, [_imported(m) for m in brought])

    observations = await repository.by_external_id_at_once(
        session, Observation, pid, {r["observationID"] for r in observation_rows}
    )
    # Names are linked to taxa: the package's own list first, then the project's, the
    # platform's, and the online checklist's.
    names = NameLinker(session, pid, resolver)
    await names.add_listed(listed_taxa(package.descriptor.get("taxonomic")))
    for number, row in enumerate(observation_rows):
        await let_others_run(number)
        observation = observations.get(row["observationID"])
        if observation is None:
            observation = Observation(project_id=pid, observation_type="", category="")
            observation.external_id = row["observationID"]
            observations[row["observationID"]] = observation
            created["observations"] += 1
        else:
            updated["observations"] += 1
        observation.deployment_id = deployments[row["deploymentID"]].id
        media_ref = row.get("mediaID") or ""
        observation.media_id = media_by_id[media_ref].id if media_ref else None
        observation.model_run_id = None
        _assign(observation, row, OBSERVATION_FIELDS)
        observation.identified_on_import()
        observation.category = (observation.scientific_name or observation.observation_type)[:50]
        observation.taxon_id = await names.taxon_id(observation.scientific_name)
        session.add(observation)
    await session.flush()

    # The package's sequences become events: a medium's eventID is its own column where the
    # package has one (older versions), else that of its media-level observations, else that
    # of the event-level observation whose span holds it (a package classified by event only).
    sequence_of = {m["mediaID"]: m["eventID"] for m in media_rows if m.get("eventID")}
    for row in observation_rows:
        if row.get("mediaID") and row.get("eventID"):
            sequence_of.setdefault(row["mediaID"], row["eventID"])
    sequence_of |= _events_by_span(media_rows, observation_rows, sequence_of)
    named: dict[uuid.UUID, dict[uuid.UUID, str]] = {d.id: {} for d in deployments.values()}
    for media_ref, event_ref in sequence_of.items():
        medium = media_by_id.get(media_ref)
        if medium is not None and medium.deployment_id is not None:
            named[medium.deployment_id][medium.id] = event_ref
    # Event-level observations keep their eventID, now the external id of their event in
    # the same deployment; deployments that gave up media are grouped again without them.
    for deployment_id in left - named.keys():
        named[deployment_id] = {}
    for deployment_id, media_events in named.items():
        await group_imported(session, pid, deployment_id, media_events)
    await session.flush()
    return ImportSummary(
        created=dict(created),
        updated=dict(updated),
        media_files_stored=stored,
        matches=existing.matches.found,
    )
