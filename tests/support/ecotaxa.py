"""EcoTaxa bundles made for tests, in the real layout: sample folders, each with an
``ecotaxa_<sample>.tsv`` (header, ``[t]``/``[f]`` type row, one row per object) and the
objects' vignettes.

Vignettes are drawn shapes of several classes (a disc, a square, a ring), each with its own
texture and a size that varies; the features are measured on the drawn pixels (area, the
bounding box's axes, mean grey), so the size a normalised vignette hides stays in a feature.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

__all__ = ["CLASSES", "EcoRow", "bundle_zip", "vignette", "write_bundle"]

# class → the category EcoTaxa would sort it into.
CLASSES = {"disc": "Copepoda", "square": "detritus", "ring": "egg<other"}
HEADER_TYPES = {
    "img_file_name": "[t]",
    "img_rank": "[f]",
    "object_id": "[t]",
    "object_lat": "[f]",
    "object_lon": "[f]",
    "object_date": "[t]",
    "object_time": "[t]",
    "object_depth_min": "[f]",
    "object_depth_max": "[f]",
    "object_annotation_category": "[t]",
    "object_annotation_category_id": "[f]",
    "object_annotation_status": "[t]",
    "object_annotation_person_name": "[t]",
    "object_annotation_person_email": "[t]",
    "object_annotation_date": "[t]",
    "object_annotation_time": "[t]",
    "object_area": "[f]",
    "object_major": "[f]",
    "object_minor": "[f]",
    "object_mean": "[f]",
    "object_comment": "[t]",
    "sample_id": "[t]",
    "sample_lat": "[f]",
    "sample_lon": "[f]",
    "sample_tot_vol": "[f]",
    "sample_cruise": "[t]",
    "acq_id": "[t]",
    "acq_sub_part": "[f]",
    "acq_instrument": "[t]",
    "process_id": "[t]",
    "process_pixel": "[f]",
}


def vignette(kind: str, size: int, seed: int) -> tuple[bytes, dict[str, float]]:
    """A PNG vignette of ``kind`` at ``size`` pixels across, and its measured features."""
    rng = random.Random(seed)
    canvas = size + 8
    image = Image.new("L", (canvas, canvas), 255)
    draw = ImageDraw.Draw(image)
    box = (4, 4, 4 + size, 4 + size)
    shade = {"disc": 60, "square": 140, "ring": 30}[kind]
    if kind == "disc":
        draw.ellipse(box, fill=shade)
    elif kind == "square":
        draw.rectangle(box, fill=shade)
        for _ in range(size):  # a speckled texture
            x, y = rng.randrange(4, 4 + size), rng.randrange(4, 4 + size)
            draw.point((x, y), fill=200)
    else:
        draw.ellipse(box, outline=shade, width=max(2, size // 6))
    raw = image.tobytes()
    dark = [(n % canvas, n // canvas, v) for n, v in enumerate(raw) if v < 250]
    pixels = [v for _x, _y, v in dark]
    xs = [x for x, _y, _v in dark]
    ys = [y for _x, y, _v in dark]
    features = {
        "area": float(len(pixels)),
        "major": float(max(max(xs) - min(xs), max(ys) - min(ys)) + 1),
        "minor": float(min(max(xs) - min(xs), max(ys) - min(ys)) + 1),
        "mean": round(sum(pixels) / len(pixels), 3),
    }
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), features


@dataclass
class EcoRow:
    """One object row; ``cells`` override or add columns."""

    object_id: str
    kind: str
    size: int
    sample: str = "s1"
    cells: dict[str, str] = field(default_factory=dict)
    image: bytes | None = None
    # A vignette and its features drawn elsewhere (``kind`` and ``size`` then unused).
    drawn: tuple[bytes, dict[str, float]] | None = None


def _rows(rows: list[EcoRow]) -> dict[str, list[dict[str, str]]]:
    by_sample: dict[str, list[dict[str, str]]] = {}
    for n, row in enumerate(rows):
        data, features = row.drawn or vignette(row.kind, row.size, n)
        row.image = data
        cells = {
            "img_file_name": f"{row.object_id}.png",
            "img_rank": "0",
            "object_id": row.object_id,
            "object_lat": "43.685",
            "object_lon": "7.315",
            "object_date": "20240312",
            "object_time": "130405",
            "object_depth_min": str(10 + n),
            "object_depth_max": str(11 + n),
            "object_annotation_category": CLASSES.get(row.kind, ""),
            "object_annotation_category_id": (
                str(45072 + list(CLASSES).index(row.kind)) if row.kind in CLASSES else ""
            ),
            "object_annotation_status": "predicted",
            "object_annotation_person_name": "",
            "object_annotation_person_email": "",
            "object_annotation_date": "",
            "object_annotation_time": "",
            "object_comment": f"{row.kind} {n}",
            "sample_id": row.sample,
            "sample_lat": "43.685",
            "sample_lon": "7.315",
            "sample_tot_vol": "2.5",
            "sample_cruise": "Point B",
            "acq_id": f"{row.sample}_acq",
            "acq_sub_part": "4",
            "acq_instrument": "ZooScan",
            "process_id": "zooprocess",
            "process_pixel": "10.6",
            **{f"object_{k}": repr(v) for k, v in features.items()},
        }
        cells.update(row.cells)
        by_sample.setdefault(row.sample, []).append(cells)
    return by_sample


def _tsv(cells: list[dict[str, str]], types: dict[str, str]) -> bytes:
    columns = list(types)
    for row in cells:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    writer.writerow([types.get(c, "[t]") for c in columns])
    for row in cells:
        writer.writerow([row.get(c, "") for c in columns])
    return buffer.getvalue().encode()


def write_bundle(
    folder: Path, rows: list[EcoRow], types: dict[str, str] | None = None
) -> dict[str, bytes]:
    """The bundle of ``rows`` written under ``folder``; the files by their paths in it."""
    files: dict[str, bytes] = {}
    for sample, cells in _rows(rows).items():
        files[f"{sample}/ecotaxa_{sample}.tsv"] = _tsv(cells, types or HEADER_TYPES)
    for row in rows:
        assert row.image is not None
        image_name = row.cells.get("img_file_name", f"{row.object_id}.png")
        files[f"{row.sample}/{image_name}"] = row.image
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def bundle_zip(files: dict[str, bytes], *, drop: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            if name not in drop:
                archive.writestr(name, data)
    return buffer.getvalue()
