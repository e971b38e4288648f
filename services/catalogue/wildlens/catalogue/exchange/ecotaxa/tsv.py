"""EcoTaxa's TSV bundle read and checked, off the event loop, before anything is stored.

A bundle is a folder (or a zip of one) of sample folders, each with ``ecotaxa_*.tsv`` files and
the images they name (and, for a profile, ``depth_bins.tsv``: :mod:`.depth_bins`). A TSV has a
header row, then a row of types (``[t]`` text, ``[f]`` number), then one row per object.
Columns are prefixed ``object_``, ``img_``, ``sample_``, ``acq_`` and ``process_``; what each
means is in :mod:`.columns`. Every problem found (a missing image, a duplicate ``object_id``, a
type row that lies, a date that is none) is noted with its file, row and column, so that one
round of corrections fixes the bundle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

from wildlens.catalogue.exchange.ecotaxa.columns import (
    ANNOTATION_STATUSES,
    RESERVED_OBJECT_COLUMNS,
    parse_category,
    parse_coordinate,
    parse_date,
    parse_time,
)
from wildlens.catalogue.exchange.ecotaxa.depth_bins import DEPTH_BINS_FILE, read_depth_bins
from wildlens.catalogue.exchange.problems import Problems
from wildlens.catalogue.exchange.uploads import whole_file_too_large
from wildlens.common.importing import cell_problem, read_csv
from wildlens.common.offload import StopFlag
from wildlens.common.settings import LimitSettings

__all__ = ["Bundle", "EcoObject", "Group", "read_bundle"]

Coordinates = Literal["decimal", "dm"]
_IMAGE_SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
_GROUPS = ("sample", "acq", "process")
_OWN_READING = frozenset({"object_lat", "object_lon", "object_date", "object_time"})


@dataclass
class Group:
    """A sample, acquisition or process: its id and its columns (without their prefix)."""

    external_id: str
    fields: dict[str, Any]
    # The sample an acquisition belongs to.
    sample: str | None = None


@dataclass
class EcoView:
    """One of an object's further images (``img_rank`` above 0)."""

    rank: int
    image: Path
    image_name: str
    content_type: str


@dataclass
class EcoObject:
    file: str
    row: int
    object_id: str
    image: Path
    image_name: str
    content_type: str
    image_rank: int
    latitude: float | None
    longitude: float | None
    captured_at: datetime | None
    depth_min: float | None
    depth_max: float | None
    category: str
    category_id: str
    status: str
    person_name: str
    person_email: str
    annotated_at: datetime | None
    features: dict[str, float]
    fields: dict[str, Any]
    sample: str | None
    acquisition: str | None
    process: str | None
    # The further images of the object (rows of the same object_id with img_rank above 0).
    views: list[EcoView] = field(default_factory=list)


@dataclass
class Bundle:
    objects: list[EcoObject] = field(default_factory=list)
    samples: dict[str, Group] = field(default_factory=dict)
    acquisitions: dict[str, Group] = field(default_factory=dict)
    processes: dict[str, Group] = field(default_factory=dict)
    # A profile's images per depth bin, by sample, from ``depth_bins.tsv`` beside its TSV.
    depth_bins: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def groups(self, prefix: str) -> dict[str, Group]:
        return {"sample": self.samples, "acq": self.acquisitions, "process": self.processes}[prefix]


def _number(text: str) -> float | None:
    """A ``[f]`` cell: None for an empty one (or NaN, as EcoTaxa writes a missing value);
    ValueError for text that is no number."""
    if text.strip() == "" or text.strip().lower() in ("nan", "na"):
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _content_type(path: Path) -> str | None:
    with path.open("rb") as handle:
        head = handle.read(8)
    for signature, content_type in _IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            return content_type
    return None


class _Reader:
    def __init__(
        self,
        root: Path,
        limits: LimitSettings,
        stop: StopFlag,
        coordinates: Coordinates,
        clock: tzinfo,
    ) -> None:
        self.root = root.resolve()
        self.limits = limits
        self.stop = stop
        self.dm = coordinates == "dm"
        self.clock = clock
        self.problems = Problems("EcoTaxa")
        self.bundle = Bundle()
        self.seen: dict[str, tuple[str, int]] = {}
        # Images of rank above 0, by object_id, with where each was written.
        self.views: dict[str, list[tuple[EcoView, str, int]]] = {}
        self.seen_views: dict[tuple[str, int], tuple[str, int]] = {}

    def table(self, path: Path) -> None:
        name = path.relative_to(self.root).as_posix()
        before = self.problems.count
        if path.stat().st_size > self.limits.csv_file_bytes:
            raise whole_file_too_large(name, self.limits, "csv")
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            self.problems.add(name, f"not UTF-8 text: {error}")
            return
        header, rows = read_csv(text, name, self.limits, self.stop, delimiter="\t")
        header = [h.strip().lower() for h in header]
        if not rows:
            self.problems.add(name, "no row of types ([t] or [f]) under the header", row=2)
            return
        _line, type_row = rows[0]
        types: dict[str, str] = {}
        raw_types = [type_row.get(h) for h in type_row if h is not None]
        for column, kind in zip(header, raw_types, strict=False):
            kind = (kind or "").strip().lower()
            if kind not in ("[t]", "[f]"):
                self.problems.add(
                    name, f"the type of {column} is {kind!r}, not [t] or [f]", row=2, field=column
                )
            types[column] = kind
        for column in ("object_id", "img_file_name"):
            if column not in header:
                self.problems.add(name, f"no {column} column", row=1, field=column)
        unknown = [c for c in header if not c.startswith(("object_", "img_", *_GROUPS))]
        for column in unknown:
            self.problems.add(
                name,
                f"{column}: columns are prefixed object_, img_, sample_, acq_ or process_",
                row=1,
                field=column,
            )
        if self.problems.count != before:
            return
        for number, (_end, raw) in enumerate(rows[1:], start=3):
            if number % 512 == 0:
                self.stop.check()
            if None in raw:
                self.problems.add(name, "more cells than columns", row=number)
                continue
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            self.object(name, path.parent, number, row, types)

    def _typed(
        self, name: str, number: int, row: dict[str, str], types: dict[str, str]
    ) -> dict[str, Any]:
        """Each cell as its type says: numbers for ``[f]``, text for ``[t]``; a problem for
        a ``[f]`` cell that is no number, or text unfit to store."""
        typed: dict[str, Any] = {}
        for column, text in row.items():
            # Positions, dates and times have readings of their own (a degree sign, dropped
            # zeros), whatever their type says.
            if types.get(column) == "[f]" and column not in _OWN_READING:
                try:
                    typed[column] = _number(text)
                except ValueError:
                    self.problems.add(
                        name,
                        f"{text!r} is not a number, though the type row says [f]",
                        row=number,
                        field=column,
                    )
            else:
                problem = cell_problem(text, 300 if column.endswith("_id") else None)
                if problem is not None:
                    self.problems.add(name, f"{column} {problem}", row=number, field=column)
                typed[column] = text
        return typed

    def _group(
        self, name: str, number: int, prefix: str, typed: dict[str, Any], sample: str | None
    ) -> str | None:
        columns = {k[len(prefix) + 1 :]: v for k, v in typed.items() if k.startswith(prefix + "_")}
        if not columns:
            return None
        key = str(columns.get("id") or "").strip()
        if not key:
            self.problems.add(name, f"{prefix}_id is empty", row=number, field=f"{prefix}_id")
            return None
        found = self.bundle.groups(prefix)
        if key not in found:
            found[key] = Group(key, columns, sample if prefix == "acq" else None)
        return key

    def object(
        self, name: str, folder: Path, number: int, row: dict[str, str], types: dict[str, str]
    ) -> None:
        before = self.problems.count
        typed = self._typed(name, number, row, types)
        object_id = row.get("object_id", "")
        rank_cell = typed.get("img_rank")
        rank = 0
        if isinstance(rank_cell, float):
            if rank_cell.is_integer() and rank_cell >= 0:
                rank = int(rank_cell)
            else:
                self.problems.add(
                    name,
                    f"img_rank {rank_cell!r} is not a whole number from 0 up",
                    row=number,
                    field="img_rank",
                )
        # An object's further images: rows of its object_id with a higher img_rank.
        seen = self.seen if rank == 0 else self.seen_views
        key: Any = object_id if rank == 0 else (object_id, rank)
        if not object_id:
            self.problems.add(name, "object_id is empty", row=number, field="object_id")
        elif key in seen:
            first, line = seen[key]
            also = "" if rank == 0 else f" with img_rank {rank}"
            self.problems.add(
                name,
                f"object_id {object_id!r} appears twice{also} (first in {first}, row {line})",
                row=number,
                field="object_id",
            )
        else:
            seen[key] = (name, number)

        image_name = row.get("img_file_name", "")
        image = (folder / image_name).resolve()
        content_type: str | None = None
        if not image_name:
            self.problems.add(name, "img_file_name is empty", row=number, field="img_file_name")
        elif not image.is_relative_to(self.root) or not image.is_file():
            self.problems.add(
                name, f"no image {image_name!r} beside the TSV", row=number, field="img_file_name"
            )
        else:
            content_type = _content_type(image)
            if content_type is None:
                self.problems.add(
                    name,
                    f"{image_name!r} is neither a JPEG nor a PNG image",
                    row=number,
                    field="img_file_name",
                )
        if rank > 0:
            # The object's own columns are the rank-0 row's; this row brings its image.
            if self.problems.count == before and content_type is not None:
                view = EcoView(rank, image, image.relative_to(self.root).as_posix(), content_type)
                self.views.setdefault(object_id, []).append((view, name, number))
            return

        def coordinate(column: str, limit: float) -> float | None:
            text = row.get(column, "")
            if not text:
                return None
            try:
                value = parse_coordinate(text, dm=self.dm)
            except ValueError as error:
                self.problems.add(name, str(error), row=number, field=column)
                return None
            if not -limit <= value <= limit:
                self.problems.add(
                    name, f"{text!r} is not within -{limit} to {limit}", row=number, field=column
                )
                return None
            return value

        latitude = coordinate("object_lat", 90)
        longitude = coordinate("object_lon", 180)
        captured_at = self._when(name, number, row, "object_date", "object_time")
        annotated_at = self._when(
            name, number, row, "object_annotation_date", "object_annotation_time"
        )
        status = row.get("object_annotation_status", "").lower()
        if status and status not in ANNOTATION_STATUSES:
            self.problems.add(
                name,
                f"object_annotation_status {status!r} is not one of "
                + ", ".join(ANNOTATION_STATUSES),
                row=number,
                field="object_annotation_status",
            )
        category = row.get("object_annotation_category", "")
        if category:
            try:
                parse_category(category)
            except ValueError as error:
                self.problems.add(name, str(error), row=number, field="object_annotation_category")
        elif status in ("validated", "dubious"):
            self.problems.add(
                name,
                f"a {status} object has no object_annotation_category",
                row=number,
                field="object_annotation_category",
            )
        depth_min, depth_max = typed.get("object_depth_min"), typed.get("object_depth_max")
        for column in ("object_depth_min", "object_depth_max"):
            if column in row and types.get(column) != "[f]" and row[column]:
                try:
                    value = _number(row[column])
                except ValueError:
                    self.problems.add(
                        name, f"{row[column]!r} is not a depth", row=number, field=column
                    )
                    continue
                if column == "object_depth_min":
                    depth_min = value
                else:
                    depth_max = value
        if depth_min is not None and depth_max is not None and depth_min > depth_max:
            self.problems.add(
                name,
                f"object_depth_min {depth_min} is below object_depth_max {depth_max}",
                row=number,
                field="object_depth_min",
            )
        features = {
            column[len("object_") :]: value
            for column, value in typed.items()
            if column.startswith("object_")
            and types.get(column) == "[f]"
            and column not in RESERVED_OBJECT_COLUMNS
            and not column.startswith("object_annotation_")
            and value is not None
        }
        fields = {
            column: value
            for column, value in typed.items()
            if column.startswith(("object_", "img_"))
            and column not in RESERVED_OBJECT_COLUMNS
            and not column.startswith("object_annotation_")
            and column[len("object_") :] not in features
            and column not in ("img_file_name", "img_rank")
        }
        sample = self._group(name, number, "sample", typed, None)
        acquisition = self._group(name, number, "acq", typed, sample)
        process = self._group(name, number, "process", typed, None)
        if self.problems.count != before or content_type is None:
            return
        category_id = typed.get("object_annotation_category_id")
        self.bundle.objects.append(
            EcoObject(
                file=name,
                row=number,
                object_id=object_id,
                image=image,
                image_name=image.relative_to(self.root).as_posix(),
                content_type=content_type,
                image_rank=0,
                latitude=latitude,
                longitude=longitude,
                captured_at=captured_at,
                depth_min=depth_min,
                depth_max=depth_max,
                category=category,
                category_id=(
                    str(int(category_id))
                    if isinstance(category_id, float) and category_id.is_integer()
                    else str(category_id or "")
                ),
                status=status or ("predicted" if category else ""),
                person_name=row.get("object_annotation_person_name", ""),
                person_email=row.get("object_annotation_person_email", ""),
                annotated_at=annotated_at,
                features=features,
                fields=fields,
                sample=sample,
                acquisition=acquisition,
                process=process,
            )
        )

    def attach_views(self) -> None:
        """Each further image to its object, by rank; a problem for one whose object has no
        image of rank 0."""
        objects = {o.object_id: o for o in self.bundle.objects}
        for object_id, views in self.views.items():
            found = objects.get(object_id)
            if found is None:
                if object_id not in self.seen:
                    for _view, name, number in views:
                        self.problems.add(
                            name,
                            f"object_id {object_id!r} has an image of img_rank {_view.rank} "
                            "but none of rank 0",
                            row=number,
                            field="img_rank",
                        )
                continue
            found.views = sorted((v for v, _n, _r in views), key=lambda v: v.rank)

    def _when(
        self, name: str, number: int, row: dict[str, str], date_column: str, time_column: str
    ) -> datetime | None:
        date_text, time_text = row.get(date_column, ""), row.get(time_column, "")
        if not date_text:
            if time_text:
                self.problems.add(
                    name, f"{time_column} without {date_column}", row=number, field=date_column
                )
            return None
        try:
            day = parse_date(date_text)
        except ValueError as error:
            self.problems.add(name, str(error), row=number, field=date_column)
            return None
        moment = timedelta()
        if time_text:
            try:
                moment = parse_time(time_text)
            except ValueError as error:
                self.problems.add(name, str(error), row=number, field=time_column)
                return None
        return (datetime(day.year, day.month, day.day, tzinfo=self.clock) + moment).astimezone(UTC)


def read_bundle(
    stop: StopFlag,
    root: Path,
    limits: LimitSettings,
    coordinates: Coordinates = "decimal",
    clock: tzinfo = UTC,
) -> tuple[Bundle, Problems]:
    """Every ``ecotaxa_*.tsv`` under ``root`` read and checked: the objects, samples,
    acquisitions and processes, and the problems found (refusing is the caller's, which adds
    those it finds in the database)."""
    reader = _Reader(root, limits, stop, coordinates, clock)
    tables = sorted(
        p for p in root.rglob("*.tsv") if p.is_file() and p.name.lower().startswith("ecotaxa_")
    )
    if not tables:
        reader.problems.add("bundle", "no ecotaxa_*.tsv file in the bundle")
    for path in tables:
        stop.check()
        reader.table(path)
    reader.attach_views()
    bins_files = sorted(
        p for p in root.rglob("*.tsv") if p.is_file() and p.name.lower() == DEPTH_BINS_FILE
    )
    for path in bins_files:
        stop.check()
        name = path.relative_to(reader.root).as_posix()
        beside = {
            o.sample
            for o in reader.bundle.objects
            if o.sample and (reader.root / o.file).parent == path.resolve().parent
        }
        found = read_depth_bins(path, name, beside, limits, stop, reader.problems)
        reader.bundle.depth_bins.update(found)
    return reader.bundle, reader.problems
