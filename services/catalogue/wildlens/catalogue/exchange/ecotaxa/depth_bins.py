"""A profile's images per depth bin, beside its TSV: ``depth_bins.tsv`` in a sample's folder.

A UVP's concentrations divide each depth bin's count by the water imaged there, which the
object rows cannot tell (most images hold no object). The instrument's counts come as a
tab-separated file of their own next to the ``ecotaxa_*.tsv``: a header with ``depth_min``,
``depth_max`` (metres) and ``images``, and, where the folder holds more than one sample,
``sample_id``; EcoTaxa's ``[t]``/``[f]`` type row under the header may be there or not. Its
problems are listed by file, row and column like the TSV's.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from wildlens.catalogue.exchange.problems import Problems
from wildlens.common.importing import read_csv
from wildlens.common.offload import StopFlag
from wildlens.common.settings import LimitSettings

__all__ = ["DEPTH_BINS_FILE", "read_depth_bins"]

DEPTH_BINS_FILE = "depth_bins.tsv"
COLUMNS = ("depth_min", "depth_max", "images")


def _cell(
    problems: Problems, name: str, number: int, row: dict[str, str], column: str
) -> float | None:
    text = row.get(column, "").strip()
    try:
        value = float(text)
    except ValueError:
        problems.add(name, f"{column} {text!r} is not a number", row=number, field=column)
        return None
    low = 1 if column == "images" else 0
    if not value >= low or value > 10_000_000 or (column == "images" and value != int(value)):
        wanted = "a whole number of images, 1 or more" if low else "metres, 0 or more"
        problems.add(
            name,
            f"{column} {text!r} must be {wanted}",
            row=number,
            field=column,
        )
        return None
    return value


def read_depth_bins(
    path: Path,
    name: str,
    folder_samples: set[str],
    limits: LimitSettings,
    stop: StopFlag,
    problems: Problems,
) -> dict[str, list[dict[str, Any]]]:
    """The bins of ``path`` (the bundle's file ``name``) by sample id, sorted by depth;
    ``folder_samples`` are the samples the TSVs beside it hold."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.add(name, f"not UTF-8 text: {error}")
        return {}
    header, rows = read_csv(text, name, limits, stop, delimiter="\t")
    header = [h.strip().lower() for h in header]
    for column in COLUMNS:
        if column not in header:
            problems.add(name, f"no {column} column", row=1, field=column)
    if "sample_id" not in header and len(folder_samples) != 1:
        problems.add(
            name,
            f"the folder holds {len(folder_samples)} samples: say each bin's in a sample_id column",
            row=1,
            field="sample_id",
        )
    if any(column not in header for column in COLUMNS) or (
        "sample_id" not in header and len(folder_samples) != 1
    ):
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    lines: dict[str, list[int]] = {}
    for number, (_end, raw) in enumerate(rows, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        if number == 2 and all(v.lower() in ("[t]", "[f]") for v in row.values() if v):
            continue  # EcoTaxa's type row
        sample = row.get("sample_id") or next(iter(folder_samples), "")
        if "sample_id" in header and sample not in folder_samples:
            problems.add(
                name,
                f"sample {sample!r} has no objects in the TSVs beside this file",
                row=number,
                field="sample_id",
            )
            continue
        values = [_cell(problems, name, number, row, c) for c in COLUMNS]
        low, high, images = values
        if low is None or high is None or images is None:
            continue
        if high <= low:
            problems.add(
                name, "depth_max must be deeper than depth_min", row=number, field="depth_max"
            )
            continue
        found.setdefault(sample, []).append(
            {"depth_min": low, "depth_max": high, "images": int(images)}
        )
        lines.setdefault(sample, []).append(number)
    for sample, bins in found.items():
        order = sorted(range(len(bins)), key=lambda i: bins[i]["depth_min"])
        for upper, lower in itertools.pairwise(order):
            if bins[lower]["depth_min"] < bins[upper]["depth_max"]:
                problems.add(
                    name,
                    f"the bin from {bins[lower]['depth_min']:g} m overlaps the one above it "
                    f"(to {bins[upper]['depth_max']:g} m)",
                    row=lines[sample][lower],
                    field="depth_min",
                )
        found[sample] = [bins[i] for i in order]
    return found
