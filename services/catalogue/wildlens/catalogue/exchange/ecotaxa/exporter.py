"""A project's objects as an EcoTaxa TSV bundle, so that it can go back to EcoTaxa.

One folder per sample, each with its ``ecotaxa_<sample>.tsv`` and the objects' images; the
TSV in EcoTaxa's layout (a header row, a row of ``[t]``/``[f]`` types, one row per object):
the object's id, position, time and depth, its features (``object_<name>``, ``[f]``) and
free columns, its current label as EcoTaxa's annotation (category, category id, status, the
person and the time of the annotation), its sample's, acquisition's and process's columns.

The images are the originals only for a caller with ``precise_locations``; anyone else's
bundle carries the GPS-free display copies (an object whose copy is not made yet has no
``img_file_name``). Positions follow the export's privacy rules: an object of a sensitive
taxon, and every object of a sample where one was found, is given the grid cell's centre,
as is the sample's own position.

An object with further images (``img_rank`` above 0) gets a row for each, its own columns
repeated with the image's rank and file, as EcoTaxa writes them; for a caller without
``precise_locations`` those images are written afresh, without their metadata.
"""

from __future__ import annotations

import asyncio
import csv
import re
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.exchange.ecotaxa.columns import parse_category
from wildlens.catalogue.exchange.ecotaxa.depth_bins import DEPTH_BINS_FILE
from wildlens.catalogue.models import Media, ObjectRecord, Observation, Sample
from wildlens.catalogue.observations.current import current_observations
from wildlens.catalogue.privacy import DISPLAY_CONTENT_TYPE, media_files
from wildlens.catalogue.samples.service import generalised_fields

__all__ = ["write_bundle"]

_FIXED = [
    "img_file_name",
    "img_rank",
    "object_id",
    "object_lat",
    "object_lon",
    "object_date",
    "object_time",
    "object_depth_min",
    "object_depth_max",
    "object_annotation_category",
    "object_annotation_category_id",
    "object_annotation_status",
    "object_annotation_person_name",
    "object_annotation_person_email",
    "object_annotation_date",
    "object_annotation_time",
]
_NUMBERS = frozenset(
    {"img_rank", "object_lat", "object_lon", "object_depth_min", "object_depth_max"}
)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    # A tab or line break inside a cell would break the table.
    return re.sub(r"[\t\r\n]+", " ", str(value))


def _when(moment: datetime | None) -> tuple[str, str]:
    if moment is None:
        return "", ""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y%m%d"), utc.strftime("%H%M%S")


def _annotation(
    record: ObjectRecord, observations: list[Observation], categories: dict[str, Any]
) -> dict[str, str]:
    """The object's current label as EcoTaxa's annotation columns (empty where none)."""
    current = current_observations(observations)
    if not current:
        return {}
    label = max(
        current,
        key=lambda o: o.verified_at or o.classification_timestamp or o.classified_at,
    )
    if label.verification_state not in ("predicted", "validated", "dubious"):
        return {}
    name = label.scientific_name
    category, category_id = name, ""
    if record.category and parse_category(record.category)[0] == name:
        category, category_id = record.category, record.category_external_id
    elif name in categories:
        category_id = categories[name].external_id
    if label.verification_state == "predicted":
        person = label.classified_by
        moment = label.classification_timestamp or label.classified_at
    else:
        person = label.verified_by or label.classified_by
        moment = label.verified_at or label.classification_timestamp or label.classified_at
    date, time = _when(moment)
    return {
        "object_annotation_category": category,
        "object_annotation_category_id": category_id,
        "object_annotation_status": label.verification_state,
        "object_annotation_person_name": person,
        # The e-mail the file gave belongs to the person it named, no one else.
        "object_annotation_person_email": (
            record.annotator_email if person == label.classified_by else ""
        ),
        "object_annotation_date": date,
        "object_annotation_time": time,
    }


def _typed_columns(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Every column of ``rows`` with its type: ``[f]`` where each value is a number."""
    columns: dict[str, bool] = {c: c in _NUMBERS for c in _FIXED}
    for row in rows:
        for column, value in row.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if column not in columns:
                columns[column] = number or value is None
            elif column not in _FIXED and value is not None and not number:
                columns[column] = False
    return [(c, "[f]" if numeric else "[t]") for c, numeric in columns.items()]


def _write_tsv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = _typed_columns(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow([c for c, _ in columns])
        writer.writerow([t for _, t in columns])
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c, _ in columns])


def _folder_name(sample: str) -> str:
    return _SAFE.sub("_", sample).strip("._") or "sample"


def _without_metadata(path: Path) -> None:
    """The image written again from its pixels alone (no EXIF, no text chunks)."""
    with Image.open(path) as image:
        image.load()
        kind = image.format
        pixels = image.copy()
    # The copy keeps ``info`` (EXIF, a JPEG comment, XMP, text chunks), which save writes.
    pixels.info = {}
    pixels.save(path, format=kind)


def _unique(folder: Path, name: str, object_id: str) -> str:
    """``name`` in ``folder``, or, taken, with the object's id before it."""
    if (folder / name).exists():
        return f"{_folder_name(object_id)}-{name}"
    return name


async def _write_views(
    ctx: ExportContext, record: ObjectRecord, row: dict[str, Any], folder: Path
) -> list[dict[str, Any]]:
    """A row for each further image of the object, its image beside the TSV."""
    rows: list[dict[str, Any]] = []
    for view in record.views:
        name = _unique(folder, PurePosixPath(str(view["file_name"])).name, row["object_id"])
        folder.mkdir(parents=True, exist_ok=True)
        await ctx.store.download_to(str(view["object_key"]), folder / name)
        if not ctx.coordinates.view.precise:
            await asyncio.to_thread(_without_metadata, folder / name)
        rows.append(row | {"img_rank": int(view["rank"]), "img_file_name": name})
    return rows


def write_depth_bins(path: Path, sample: Sample) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["sample_id", "depth_min", "depth_max", "images"])
        writer.writerow(["[t]", "[f]", "[f]", "[f]"])
        for b in sample.depth_bins:
            writer.writerow([sample.external_id, b["depth_min"], b["depth_max"], b["images"]])


async def write_bundle(ctx: ExportContext) -> None:
    session, pid = ctx.session, ctx.project.id
    objects = [
        (m, r)
        for m, r in await repository.objects_of_project(session, pid)
        if ctx.coordinates.shows(m.id)
    ]
    media: list[Media] = [m for m, _ in objects]
    ids = [m.id for m in media]
    features = await repository.object_features(session, ids)
    observations = await repository.observations_of_objects(session, pid)
    samples, acquisitions, processes = await repository.project_groups(session, pid)
    categories = {
        parse_category(name)[0]: c
        for name, c in (await repository.object_categories(session, pid)).items()
    }
    view = ctx.coordinates.view
    sensitive = await view.sensitive_media(session, ids)
    sensitive_samples = {r.sample_id for m, r in objects if m.id in sensitive and r.sample_id}
    files = await media_files(ctx.store, media, originals=view.precise)
    await ctx.progress(0.2)

    by_folder: dict[str, list[dict[str, Any]]] = {}
    for n, (m, record) in enumerate(objects, start=1):
        sample = samples.get(record.sample_id) if record.sample_id else None
        folder_name = _folder_name(sample.external_id if sample else "no-sample")
        hidden = m.id in sensitive or (record.sample_id in sensitive_samples)
        row: dict[str, Any] = {
            "object_id": m.external_id or str(m.id),
            "img_rank": record.image_rank,
        }
        if m.latitude is not None and m.longitude is not None:
            place = view.place(m.latitude, m.longitude, sensitive=hidden)
            row["object_lat"], row["object_lon"] = place.latitude, place.longitude
        row["object_date"], row["object_time"] = _when(m.captured_at)
        row["object_depth_min"], row["object_depth_max"] = record.depth_min, record.depth_max
        row |= _annotation(record, observations.get(m.id, []), categories)
        for name, value in sorted(features.get(m.id, {}).items()):
            row[f"object_{name}"] = value
        for column, value in record.fields.items():
            row.setdefault(column, value)
        if sample is not None:
            fields = dict(sample.fields)
            if record.sample_id in sensitive_samples and not view.precise:
                fields = generalised_fields(view, fields)
            row |= {f"sample_{k}": v for k, v in fields.items()}
        acquisition = acquisitions.get(record.acquisition_id) if record.acquisition_id else None
        if acquisition is not None:
            row |= {f"acq_{k}": v for k, v in acquisition.fields.items()}
        process = processes.get(record.process_id) if record.process_id else None
        if process is not None:
            row |= {f"process_{k}": v for k, v in process.fields.items()}

        file = files[m.id]
        if file.key is not None:
            name = PurePosixPath(m.filename or m.sha256).name
            if file.file == "display" and m.content_type != DISPLAY_CONTENT_TYPE:
                name = f"{name}.jpg"
            # Two objects' images of one name in a sample keep apart by the object's id.
            target = ctx.folder / folder_name / name
            if target.exists():
                name = f"{_folder_name(row['object_id'])}-{name}"
                target = ctx.folder / folder_name / name
            target.parent.mkdir(parents=True, exist_ok=True)
            await ctx.store.download_to(file.key, target)
            row["img_file_name"] = name
        by_folder.setdefault(folder_name, []).append(row)
        if record.views:
            by_folder[folder_name] += await _write_views(ctx, record, row, ctx.folder / folder_name)
        if n % 500 == 0:
            await ctx.progress(0.2 + 0.7 * n / len(objects))
    for folder_name, rows in by_folder.items():
        (ctx.folder / folder_name).mkdir(parents=True, exist_ok=True)
        _write_tsv(ctx.folder / folder_name / f"ecotaxa_{folder_name}.tsv", rows)
    # A profile's images per depth bin go back beside its TSV, as they came.
    for sample in samples.values():
        folder_name = _folder_name(sample.external_id)
        if sample.depth_bins and folder_name in by_folder:
            write_depth_bins(ctx.folder / folder_name / DEPTH_BINS_FILE, sample)
    if not by_folder:
        # An empty bundle still says what it is.
        _write_tsv(ctx.folder / "ecotaxa_empty.tsv", [])
