"""The Koster Seafloor Observatory's sites, movies and species CSVs into a project.

KSO (ocean-data-factory-sweden/kso) keeps a project in three CSVs:

* ``sites``: ``site_id, siteName, decimalLatitude, decimalLongitude, geodeticDatum,
  countryCode`` → locations (``countryCode`` as their region);
* ``movies``: ``movie_id, filename, created_on, fps, duration, sampling_start, sampling_end,
  author, site_id`` (or ``siteName``) and optionally ``fpath`` → video media that reference
  their files where they are (``fpath``, else ``filename``), one deployment per site spanning
  its movies' dates; ``fps``, ``duration`` and the sampled span (seconds into the movie) are
  kept in the medium's metadata;
* ``species``: ``species_id, commonName, scientificName, taxonRank, kingdom`` → the project's
  expected taxa and a label map (model ``kso``: ``commonName`` → taxon), making the taxon
  where the tree does not have it yet.

All three are checked first and every problem reported with its file, line and column;
then everything is written in the caller's transaction, or nothing.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary
from wildlens.catalogue.exchange.coco.schema import parse_coco_datetime
from wildlens.catalogue.exchange.columns import column_length
from wildlens.catalogue.exchange.places import SitePlaces
from wildlens.catalogue.exchange.problems import Problems
from wildlens.catalogue.models import (
    LabelMapEntry,
    Location,
    Media,
    Observation,
    Project,
    ProjectTaxon,
)
from wildlens.catalogue.models.clock import parse_offset
from wildlens.catalogue.sequences.importing import group_imported
from wildlens.catalogue.taxa.names import ListedTaxon, NameLinker
from wildlens.catalogue.taxa.ranks import normalise_rank
from wildlens.catalogue.taxa.resolution import NameResolver
from wildlens.common.importing import read_csv, row_problems
from wildlens.common.offload import StopFlag, run_stoppable
from wildlens.common.settings import LimitSettings

__all__ = ["KSO_FILES", "LABEL_MAP_MODEL", "import_kso"]

KSO_FILES = ("sites", "movies", "species")
LABEL_MAP_MODEL = "kso"
# The columns kept as text, with the lengths of the columns they fill (ids are kept with a
# prefix, ``kso:`` or ``kso:movie:``).
_STORED_TEXT: dict[str, dict[str, int | None]] = {
    "sites": {
        "site_id": 190,
        "siteName": column_length(Location, "name"),
        "countryCode": column_length(Location, "region"),
    },
    "movies": {
        "movie_id": 180,
        "filename": column_length(Media, "filename"),
        "fpath": column_length(Media, "file_path"),
        "author": 200,
        "siteName": column_length(Location, "name"),
    },
    "species": {
        "commonName": column_length(LabelMapEntry, "label"),
        "scientificName": column_length(Observation, "scientific_name"),
        "kingdom": column_length(Observation, "scientific_name"),
    },
}
_REQUIRED = {
    "sites": ("site_id", "siteName", "decimalLatitude", "decimalLongitude"),
    "movies": ("movie_id", "filename"),
    "species": ("species_id", "commonName", "scientificName", "taxonRank"),
}


@dataclass
class _Site:
    line: int
    key: str
    name: str
    latitude: float
    longitude: float
    region: str


@dataclass
class _Movie:
    line: int
    row: dict[str, str]
    site: _Site
    created_on: datetime | None
    metadata: dict[str, Any]


def _rows(
    name: str, data: bytes | None, problems: Problems, limits: LimitSettings, stop: StopFlag
) -> list[tuple[int, dict[str, str]]]:
    resource = f"{name}.csv"
    if data is None:
        problems.add(resource, f"the {name} CSV is missing")
        return []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.add(resource, f"not UTF-8 text: {error}")
        return []
    header, table = read_csv(text, resource, limits, stop)
    missing = [c for c in _REQUIRED[name] if c not in header]
    if name == "movies" and not {"site_id", "siteName"} & set(header):
        missing.append("site_id (or siteName)")
    for column in missing:
        problems.add(resource, f"no {column} column", row=1, field=column)
    if missing:
        return []
    rows = []
    for line, row in enumerate((row for _end, row in table), start=2):
        if None in row:
            problems.add(resource, "more cells than columns", row=line)
            continue
        bad = list(row_problems(row, _STORED_TEXT[name]))
        for column, message in bad:
            problems.add(resource, message, row=line, field=column)
        if not bad:
            rows.append((line, {k: (v or "").strip() for k, v in row.items() if k}))
    return rows


def _float(
    text: str, resource: str, line: int, field: str, problems: Problems, *, low: float, high: float
) -> float | None:
    try:
        value = float(text)
    except ValueError:
        problems.add(resource, f"{text!r} is not a number", row=line, field=field)
        return None
    if not low <= value <= high:
        problems.add(resource, f"{value} is not within {low} to {high}", row=line, field=field)
        return None
    return value


def _sites(rows: list[tuple[int, dict[str, str]]], problems: Problems) -> dict[str, _Site]:
    sites: dict[str, _Site] = {}
    for line, row in rows:
        before = problems.count
        for column in _REQUIRED["sites"]:
            if not row.get(column):
                problems.add("sites.csv", f"{column} is empty", row=line, field=column)
        lat = (
            _float(
                row["decimalLatitude"],
                "sites.csv",
                line,
                "decimalLatitude",
                problems,
                low=-90,
                high=90,
            )
            if row.get("decimalLatitude")
            else None
        )
        lon = (
            _float(
                row["decimalLongitude"],
                "sites.csv",
                line,
                "decimalLongitude",
                problems,
                low=-180,
                high=180,
            )
            if row.get("decimalLongitude")
            else None
        )
        datum = row.get("geodeticDatum", "")
        if datum and datum.upper() not in ("WGS84", "EPSG:4326", "WGS 84"):
            problems.add(
                "sites.csv",
                f"geodeticDatum {datum!r}: only WGS84 coordinates are accepted",
                row=line,
                field="geodeticDatum",
            )
        key = row.get("site_id", "")
        if key in sites:
            problems.add("sites.csv", f"site_id {key} appears twice", row=line, field="site_id")
        if problems.count == before and lat is not None and lon is not None:
            sites[key] = _Site(
                line, key, row["siteName"], lat, lon, row.get("countryCode", "")[:10]
            )
    return sites


def _seconds(row: dict[str, str], field: str, line: int, problems: Problems) -> float | None:
    if not row.get(field):
        return None
    return _float(row[field], "movies.csv", line, field, problems, low=0, high=1e9)


def _movies(
    rows: list[tuple[int, dict[str, str]]],
    sites: dict[str, _Site],
    offset: str,
    problems: Problems,
) -> list[_Movie]:
    by_name = {s.name: s for s in sites.values()}
    movies: list[_Movie] = []
    seen: set[str] = set()
    for line, row in rows:
        before = problems.count
        for column in _REQUIRED["movies"]:
            if not row.get(column):
                problems.add("movies.csv", f"{column} is empty", row=line, field=column)
        key = row.get("movie_id", "")
        if key in seen:
            problems.add("movies.csv", f"movie_id {key} appears twice", row=line, field="movie_id")
        seen.add(key)
        site = sites.get(row.get("site_id", "")) or by_name.get(row.get("siteName", ""))
        if site is None:
            field = "site_id" if "site_id" in row else "siteName"
            problems.add(
                "movies.csv", f"no site {row.get(field)!r} in the sites CSV", row=line, field=field
            )
        created_on = None
        if row.get("created_on"):
            try:
                created_on = parse_coco_datetime(row["created_on"])
            except ValueError:
                problems.add(
                    "movies.csv",
                    f"created_on {row['created_on']!r} is not a date and time",
                    row=line,
                    field="created_on",
                )
        fps = _seconds(row, "fps", line, problems)
        if fps == 0:
            problems.add("movies.csv", "fps must be above 0", row=line, field="fps")
        duration = _seconds(row, "duration", line, problems)
        start = _seconds(row, "sampling_start", line, problems)
        end = _seconds(row, "sampling_end", line, problems)
        if start is not None and end is not None and start > end:
            problems.add(
                "movies.csv",
                f"sampling_start {start} is after sampling_end {end}",
                row=line,
                field="sampling_start",
            )
        if duration is not None and end is not None and end > duration:
            problems.add(
                "movies.csv",
                f"sampling_end {end} is past the movie's duration {duration}",
                row=line,
                field="sampling_end",
            )
        if problems.count != before or site is None:
            continue
        if created_on is not None:
            if created_on.tzinfo is None:
                created_on = created_on.replace(tzinfo=parse_offset(offset))
            created_on = created_on.astimezone(UTC)
        metadata = {
            k: v
            for k, v in {
                "movie_id": key,
                "fps": fps,
                "duration_s": duration,
                "sampling_start_s": start,
                "sampling_end_s": end,
                "author": row.get("author") or None,
            }.items()
            if v is not None
        }
        movies.append(_Movie(line, row, site, created_on, metadata))
    return movies


def _species(
    rows: list[tuple[int, dict[str, str]]], problems: Problems
) -> list[tuple[str, str, str, str]]:
    species: list[tuple[str, str, str, str]] = []
    labels: set[str] = set()
    for line, row in rows:
        before = problems.count
        for column in _REQUIRED["species"]:
            if not row.get(column):
                problems.add("species.csv", f"{column} is empty", row=line, field=column)
        rank = normalise_rank(row.get("taxonRank", "")) if row.get("taxonRank") else None
        if row.get("taxonRank") and rank is None:
            problems.add(
                "species.csv",
                f"taxonRank {row['taxonRank']!r} is not a Darwin Core rank",
                row=line,
                field="taxonRank",
            )
        label = row.get("commonName", "")
        if label in labels:
            problems.add(
                "species.csv", f"commonName {label!r} appears twice", row=line, field="commonName"
            )
        labels.add(label)
        if problems.count == before and rank is not None:
            species.append((label, row["scientificName"], rank, row.get("kingdom", "")))
    return species


def _check(
    stop: StopFlag, files: dict[str, bytes], utc_offset: str, limits: LimitSettings
) -> tuple[dict[str, _Site], list[_Movie], list[tuple[str, str, str, str]]]:
    """The three files read and checked, off the event loop; Invalid with every problem."""
    problems = Problems("KSO")
    rows = {name: _rows(name, files.get(name), problems, limits, stop) for name in KSO_FILES}
    sites = _sites(rows["sites"], problems)
    movies = _movies(rows["movies"], sites, utc_offset, problems)
    species = _species(rows["species"], problems)
    problems.raise_if_any()
    return sites, movies, species


async def import_kso(
    session: AsyncSession,
    project: Project,
    files: dict[str, bytes],
    limits: LimitSettings,
    utc_offset: str = "+00:00",
    *,
    imported_by: str = "",
    resolver: NameResolver | None = None,
) -> ImportSummary:
    """Import KSO's CSVs (``files``: sites, movies, species → their bytes) into ``project``;
    names nothing else knows are asked of ``resolver``, the platform's online checklist."""
    sites, movies, species = await run_stoppable(_check, files, utc_offset, limits)

    pid = project.id
    created: Counter[str] = Counter()
    updated: Counter[str] = Counter()
    places = SitePlaces(session, pid, LABEL_MAP_MODEL)
    locations = {}
    for site in sites.values():
        location = await places.location(
            f"kso:{site.key}", site.name, site.latitude, site.longitude
        )
        assert location is not None
        location.name, location.region = site.name[:200], site.region
        session.add(location)
        locations[site.key] = location

    by_site: dict[str, list[_Movie]] = defaultdict(list)
    for movie in movies:
        by_site[movie.site.key].append(movie)
    keys = [f"kso:movie:{m.metadata['movie_id']}" for m in movies]
    existing = await repository.by_external_id(session, Media, pid, keys)
    grouped: set[uuid.UUID] = set()
    for site_key, group in by_site.items():
        location = locations[site_key]
        times = [m.created_on for m in group if m.created_on is not None]
        deployment = (
            await places.deployment(location, min(times), max(times), utc_offset) if times else None
        )
        for movie in group:
            key = f"kso:movie:{movie.metadata['movie_id']}"
            media = existing.get(key)
            if media is None:
                media = Media(
                    id=uuid.uuid4(), project_id=pid, sha256="", object_key="", content_type=""
                )
                media.external_id = key
                created["media"] += 1
            else:
                updated["media"] += 1
            filename = movie.row["filename"]
            media.filename = filename[:300]
            media.file_path = (movie.row.get("fpath") or filename)[:1000]
            media.content_type = mimetypes.guess_type(filename)[0] or "video/mp4"
            media.kind = "video"
            media.captured_at = movie.created_on
            media.captured_at_source = "kso"
            media.uploaded_by = imported_by[:200]
            if deployment is not None and movie.created_on is not None:
                media.deployment_id, media.device_id = deployment.id, deployment.device_id
                media.resolution_issue = ""
                grouped.add(deployment.id)
            else:
                media.deployment_id = None
                media.resolution_issue = "the KSO movies CSV gives no created_on"
            media.raw_metadata = {**media.raw_metadata, "kso": movie.metadata}
            session.add(media)

    expected = await repository.project_taxon_ids(session, pid)
    labels = await repository.label_map(session, pid, LABEL_MAP_MODEL)
    # The species list is the file's own taxonomic list: its taxa are found in the tree by
    # name or made, under their kingdom and (for a binomial) genus.
    names = NameLinker(session, pid, resolver)
    await names.add_listed(
        [
            ListedTaxon(
                scientific_name=scientific_name,
                rank=rank,
                vernacular_names={"en": label},
                lineage={"kingdom": kingdom} if kingdom else {},
            )
            for label, scientific_name, rank, kingdom in species
        ]
    )
    if names.listed_created:
        created["taxa"] += names.listed_created
    for label, scientific_name, _rank, _kingdom in species:
        taxon_id = await names.taxon_id(scientific_name)
        if taxon_id is None:
            continue  # a blank name: the species check reports it
        if taxon_id not in expected:
            session.add(ProjectTaxon(project_id=pid, taxon_id=taxon_id, added_by=imported_by))
            expected.add(taxon_id)
            created["project_taxa"] += 1
        entry = labels.get(label)
        if entry is None:
            entry = LabelMapEntry(
                project_id=pid, model_name=LABEL_MAP_MODEL, label=label[:200], taxon_id=taxon_id
            )
            created["label_map_entries"] += 1
        elif entry.taxon_id != taxon_id:
            entry.taxon_id = taxon_id
            updated["label_map_entries"] += 1
        entry.updated_by = imported_by[:200]
        session.add(entry)
    await session.flush()
    # KSO names no sequences: the movies chain into events by the project's gap.
    for deployment_id in sorted(grouped):
        await group_imported(session, pid, deployment_id, {})
    for table, n in places.created.items():
        created[table] += n
    return ImportSummary(
        created=dict(created),
        updated=dict(updated),
        media_files_stored=0,
        matches=places.matches.found,
    )
