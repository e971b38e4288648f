"""A statistic's table as CSV text or a PNG chart.

Charts are drawn on a ``Figure`` of its own with the Agg canvas (no pyplot, no global state),
so concurrent requests never share a figure and no display is needed.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from wildlens.catalogue.statistics.tables import ALL_LOCATIONS, Table

__all__ = ["to_csv", "to_json_value", "to_png"]

MAX_LABELLED_CELLS = 400


def to_json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=table.columns, lineterminator="\r\n")
    writer.writeheader()
    for row in table.rows:
        writer.writerow({k: "" if v is None else to_json_value(v) for k, v in row.items()})
    return out.getvalue()


def _empty(ax: Any) -> None:
    ax.text(0.5, 0.5, "no records in this scope", ha="center", va="center")
    ax.set_axis_off()


def _counts(table: Table, ax: Any) -> None:
    taxa = sorted({r["taxon"] for r in table.rows})
    locations = sorted({r["location_name"] or str(r["location_id"]) for r in table.rows})
    grid = [[0] * len(locations) for _ in taxa]
    for r in table.rows:
        name = r["location_name"] or str(r["location_id"])
        grid[taxa.index(r["taxon"])][locations.index(name)] = r["independent_detections"]
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(locations)), locations, rotation=45, ha="right")
    ax.set_yticks(range(len(taxa)), taxa)
    # Numbers in the cells while they stay legible; beyond that the colour scale says it.
    if len(taxa) * len(locations) <= MAX_LABELLED_CELLS:
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                ax.text(j, i, str(value), ha="center", va="center", color="white")
    bar = ax.figure.colorbar(image, ax=ax, label="independent detections")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()


def _relative_abundance(table: Table, ax: Any) -> None:
    totals = [r for r in table.rows if r["location_name"] == ALL_LOCATIONS and r["rai"] is not None]
    totals.sort(key=lambda r: r["rai"])
    ax.barh([r["taxon"] for r in totals], [r["rai"] for r in totals], color="tab:green")
    ax.set_xlabel("independent detections per 100 trap-nights")


def _activity(table: Table, ax: Any) -> None:
    by_taxon: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for r in table.rows:
        by_taxon[r["taxon"]][r["hour"]] = r["independent_detections"]
    for taxon, hours in sorted(by_taxon.items()):
        ax.step(range(25), [*hours, hours[0]], where="post", label=taxon)
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3))
    ax.set_xlabel("local hour of day")
    ax.set_ylabel("independent detections")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize="small")


def _detection_rate(table: Table, ax: Any) -> None:
    rows = [r for r in table.rows if r["detection_rate"] is not None]
    labels = [f"{r['location_name']}\n{str(r['deployment_id'])[:8]}" for r in rows]
    ax.bar(labels, [100 * r["detection_rate"] for r in rows], color="tab:orange")
    ax.set_ylabel("media with an animal (%)")
    ax.set_ylim(0, 100)
    ax.tick_params(axis="x", labelrotation=45)


def _species_accumulation(table: Table, ax: Any) -> None:
    ax.step(
        [r["trap_nights"] for r in table.rows],
        [r["species"] for r in table.rows],
        where="post",
        color="tab:blue",
    )
    ax.set_xlabel("trap-nights")
    ax.set_ylabel("species")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)


_CHARTS = {
    "counts": _counts,
    "relative-abundance": _relative_abundance,
    "activity": _activity,
    "detection-rate": _detection_rate,
    "species-accumulation": _species_accumulation,
}


def _height(table: Table) -> float:
    """Inches: 5, or more for charts with a row per taxon, so that their labels do not overlap
    (up to a poster's height)."""
    if table.name not in ("counts", "relative-abundance"):
        return 5.0
    taxa = len({r["taxon"] for r in table.rows})
    return min(max(5.0, 1.5 + 0.25 * taxa), 40.0)


def to_png(table: Table) -> bytes:
    figure = Figure(figsize=(8, _height(table)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    if table.rows:
        _CHARTS[table.name](table, ax)
    else:
        _empty(ax)
    ax.set_title(table.title)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
