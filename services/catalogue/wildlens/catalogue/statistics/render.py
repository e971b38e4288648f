"""A statistic's table as CSV text or a PNG chart.

Charts are drawn on a ``Figure`` of its own with the Agg canvas (no pyplot, no global state),
so concurrent requests never share a figure and no display is needed. Under every chart a
caption says what was counted, with which independence interval and by which rules, in the
words of ``WORDING`` and ``RULES_IN_WORDS``; the PNG's Title and Description carry the same
text, so that a picture saved on its own still says what it shows.
"""

from __future__ import annotations

import csv
import io
import textwrap
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from math import ceil
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, FigureBase
from matplotlib.ticker import MaxNLocator

from wildlens.catalogue.statistics.effort import SPECIES_RULE
from wildlens.catalogue.statistics.per_sample import OBJECT_RULE
from wildlens.catalogue.statistics.repository import COUNTING_RULE
from wildlens.catalogue.statistics.tables import ALL_LOCATIONS, DETECTION_RATE_RULE, Table

__all__ = ["RULES_IN_WORDS", "WORDING", "Chart", "chart", "to_csv", "to_json_value", "to_png"]

MAX_LABELLED_CELLS = 400
WIDTH_IN = 8.0
DPI = 100
# Charts with a row per taxon grow with the taxa, up to a poster's height.
MAX_CHART_HEIGHT_IN = 40.0
# Activity: more panels than this would be too small to read; the caption counts the rest.
MAX_PANELS = 12
PANEL_HEIGHT_IN = 1.7
# Characters of a panel's title line before the taxon's name wraps (four panels a row).
PANEL_TITLE_CHARS = 28
CAPTION_POINTS = 8
# Characters of a caption line at CAPTION_POINTS across WIDTH_IN, with a margin.
CAPTION_CHARS = 122
CAPTION_LINE_IN = 0.15
CAPTION_PAD_IN = 0.15


@dataclass(frozen=True)
class Wording:
    """What a chart counts, after "Counted: ", and what an empty one lacks, after "Nothing to
    draw: "."""

    counted: str
    missing: str


WORDING: dict[str, Wording] = {
    "counts": Wording(
        "independent detections of each taxon at each location",
        "no independent detections in this scope",
    ),
    "relative-abundance": Wording(
        "independent detections per 100 trap-nights (a trap-night: one camera out for 24 h), "
        "each taxon over all locations",
        "no independent detections at locations with cameras out in this scope",
    ),
    "activity": Wording(
        "independent detections of each taxon by hour of day on the camera's clock, "
        "one panel per taxon",
        "no independent detections in this scope",
    ),
    "detection-rate": Wording(
        "photos and video frames of each deployment; each bar is the share showing an animal",
        "no deployment with photos or frames in this scope",
    ),
    "species-accumulation": Wording(
        "species seen so far, day by day, against the trap-nights cameras were out",
        "no camera out in this scope",
    ),
    "abundance": Wording(
        "objects of each taxon in each sample", "no objects in these states in this scope"
    ),
    "concentration": Wording(
        "individuals of each taxon per m³ of water, in each sample (and depth bin)",
        "no objects in these states in this scope",
    ),
    "biovolume": Wording(
        "biovolume (mm³) of each taxon per m³ of water, in each sample (and depth bin)",
        "no objects in these states in this scope",
    ),
}

# Each rule a table names (the JSON answer's ``counting_rule``), as an ecologist reads it.
RULES_IN_WORDS: dict[str, str] = {
    COUNTING_RULE: "Each animal counted once per sequence: the event-level count where given, "
    "else the most seen in one photo (MaxN).",
    DETECTION_RATE_RULE: "Each photo or frame counted once, however many animals it shows.",
    OBJECT_RULE: "Each object counted once, with its current label (a person's over a "
    "machine's); non-taxonomic categories (detritus, artefact, bubble) left out unless asked.",
    SPECIES_RULE: "Species are leaf taxa: a taxon counts as a species only while no finer taxon "
    "below it was seen (Aves, Ardea and Ardea cinerea seen together are one species).",
}


@dataclass
class Chart:
    """A statistic drawn: its figure, and the texts on it (what the PNG's metadata repeats)."""

    figure: Figure
    title: str
    caption: str
    # The small multiples' titles ("taxon\nn = 3"), in the order drawn (row by row); empty
    # for one plot.
    panels: list[str] = field(default_factory=list)
    # What an empty chart says in its middle instead of a plot.
    message: str | None = None

    @property
    def description(self) -> str:
        """The picture in words: its message, caption and each panel's title."""
        lines = [self.message] if self.message else []
        lines.append(self.caption)
        if self.panels:
            panels = "; ".join(p.replace("\n", ": ") for p in self.panels)
            lines.append(f"Panels: {panels}.")
        return "\n".join(lines)


@dataclass
class _Drawn:
    height_in: float = 5.0
    panels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    message: str | None = None


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


def duration(seconds: int) -> str:
    """An interval as people write it: 30 min, 1 h, 2 days, 45 s."""
    for unit, name in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= unit and seconds % unit == 0:
            n = seconds // unit
            return f"{n} {name}s" if name == "day" and n > 1 else f"{n} {name}"
    return f"{seconds} s"


def _independence(seconds: int | None) -> str:
    if seconds is None:
        return "Independence interval: none; it does not change what is counted here."
    d = duration(seconds)
    return (
        f"Independence interval {d}: a record within {d} of the previous one "
        "(same taxon and location) joins its detection."
    )


def caption(table: Table, notes: list[str] | None = None) -> str:
    """What was counted, the independence interval, the rules, and the chart's own notes: one
    sentence a line."""
    lines = [
        f"Counted: {WORDING[table.name].counted}.",
        _independence(table.independence_interval_s),
        *(RULES_IN_WORDS.get(rule, f"{rule}.") for rule in table.rules),
        *(notes or []),
    ]
    return "\n".join(lines)


def _nothing(table: Table, figure: FigureBase) -> _Drawn:
    message = f"Nothing to draw: {WORDING[table.name].missing}."
    ax = figure.add_subplot()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize="large")
    ax.set_axis_off()
    return _Drawn(height_in=3.0, message=message)


def _taxa_height(taxa: int) -> float:
    """Inches for a chart with a row per taxon, so that their labels do not overlap."""
    return min(max(5.0, 1.5 + 0.25 * taxa), MAX_CHART_HEIGHT_IN)


def _counts(table: Table, figure: FigureBase) -> _Drawn | None:
    taxa = sorted({r["taxon"] for r in table.rows})
    locations = sorted({r["location_name"] or str(r["location_id"]) for r in table.rows})
    grid = [[0] * len(locations) for _ in taxa]
    for r in table.rows:
        name = r["location_name"] or str(r["location_id"])
        grid[taxa.index(r["taxon"])][locations.index(name)] = r["independent_detections"]
    ax = figure.add_subplot()
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(locations)), locations, rotation=45, ha="right")
    ax.set_yticks(range(len(taxa)), taxa)
    # Numbers in the cells while they stay legible; beyond that the colour scale says it.
    if len(taxa) * len(locations) <= MAX_LABELLED_CELLS:
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                ax.text(j, i, str(value), ha="center", va="center", color="white")
    bar = figure.colorbar(image, ax=ax, label="independent detections")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    return _Drawn(height_in=_taxa_height(len(taxa)))


def _relative_abundance(table: Table, figure: FigureBase) -> _Drawn | None:
    totals = [r for r in table.rows if r["location_name"] == ALL_LOCATIONS and r["rai"] is not None]
    if not totals:
        return None
    totals.sort(key=lambda r: r["rai"])
    ax = figure.add_subplot()
    ax.barh([r["taxon"] for r in totals], [r["rai"] for r in totals], color="tab:green")
    ax.set_xlabel("independent detections per 100 trap-nights")
    return _Drawn(height_in=_taxa_height(len(totals)))


def _columns(panels: int) -> int:
    """Panels side by side: one alone, then a square-ish grid at most four wide."""
    for columns, most in ((1, 1), (2, 4), (3, 9)):
        if panels <= most:
            return columns
    return 4


def _activity(table: Table, figure: FigureBase) -> _Drawn | None:
    by_taxon: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for r in table.rows:
        by_taxon[r["taxon"]][r["hour"]] = r["independent_detections"]
    # Most detections first (then by name): the panels a reader looks at, and the ones kept.
    ranked = sorted(by_taxon.items(), key=lambda item: (-sum(item[1]), item[0]))
    shown, left_out = ranked[:MAX_PANELS], len(ranked) - MAX_PANELS
    columns = _columns(len(shown))
    rows = ceil(len(shown) / columns)
    first: Axes | None = None
    titles: list[str] = []
    for i, (taxon, hours) in enumerate(shown):
        ax = figure.add_subplot(rows, columns, i + 1, sharex=first, sharey=first)
        first = first or ax
        ax.fill_between(range(25), [*hours, hours[0]], step="post", alpha=0.3, color="tab:blue")
        ax.step(range(25), [*hours, hours[0]], where="post", color="tab:blue")
        ax.set_title(
            f"{textwrap.fill(taxon, PANEL_TITLE_CHARS)}\nn = {sum(hours)}",
            fontsize="small" if columns > 3 else "medium",
        )
        titles.append(f"{taxon}\nn = {sum(hours)}")
        # Hour labels under the lowest panel of each column, counts left of the first column.
        ax.tick_params(labelbottom=i + columns >= len(shown), labelleft=i % columns == 0)
    assert first is not None  # the table has rows, so at least one taxon
    first.set_xlim(0, 24)
    first.set_xticks(range(0, 25, 6))
    first.set_ylim(bottom=0)
    first.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.supxlabel("local hour of day (camera clock)")
    figure.supylabel("independent detections")
    notes = ["Each panel's n is its taxon's independent detections."]
    if len(shown) > 1:
        notes.append("All panels share one scale, so that their heights compare.")
    if left_out > 0:
        notes.append(
            f"Shown: the {MAX_PANELS} taxa with the most independent detections, "
            f"and {left_out} more {'taxon' if left_out == 1 else 'taxa'} not drawn "
            "(all are in the JSON and CSV answers)."
        )
    return _Drawn(height_in=max(3.5, 1.2 + PANEL_HEIGHT_IN * rows), panels=titles, notes=notes)


def _detection_rate(table: Table, figure: FigureBase) -> _Drawn | None:
    rows = [r for r in table.rows if r["detection_rate"] is not None]
    if not rows:
        return None
    labels = [f"{r['location_name']}\n{str(r['deployment_id'])[:8]}" for r in rows]
    ax = figure.add_subplot()
    ax.bar(labels, [100 * r["detection_rate"] for r in rows], color="tab:orange")
    ax.set_ylabel("photos and frames with an animal (%)")
    ax.set_ylim(0, 100)
    ax.tick_params(axis="x", labelrotation=45)
    return _Drawn()


def _species_accumulation(table: Table, figure: FigureBase) -> _Drawn | None:
    ax = figure.add_subplot()
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
    return _Drawn()


_PER_SAMPLE_VALUES = {
    "abundance": ("objects", "objects"),
    "concentration": ("concentration_per_m3", "individuals per m³"),
    "biovolume": ("biovolume_mm3_per_m3", "mm³ per m³"),
}


def _per_sample(table: Table, figure: FigureBase) -> _Drawn | None:
    """A heat map of taxa against samples (and depth bins), the value in each cell."""
    column, label = _PER_SAMPLE_VALUES[table.name]

    def where(r: dict[str, Any]) -> str:
        if r.get("depth_min") is None or table.name == "abundance":
            return str(r["sample"])
        return f"{r['sample']} {r['depth_min']:g}-{r['depth_max']:g} m"

    taxa = sorted({r["taxon"] for r in table.rows})
    places = sorted({where(r) for r in table.rows})
    grid = [[0.0] * len(places) for _ in taxa]
    for r in table.rows:
        grid[taxa.index(r["taxon"])][places.index(where(r))] += r[column] or 0.0
    ax = figure.add_subplot()
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(places)), places, rotation=45, ha="right")
    ax.set_yticks(range(len(taxa)), taxa)
    if len(taxa) * len(places) <= MAX_LABELLED_CELLS:
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="white")
    figure.colorbar(image, ax=ax, label=label)
    notes = [f"Formula: {table.formula}."] if table.formula else []
    return _Drawn(height_in=_taxa_height(len(taxa)), notes=[*notes, *table.notes])


_CHARTS: dict[str, Callable[[Table, FigureBase], _Drawn | None]] = {
    "abundance": _per_sample,
    "concentration": _per_sample,
    "biovolume": _per_sample,
    "counts": _counts,
    "relative-abundance": _relative_abundance,
    "activity": _activity,
    "detection-rate": _detection_rate,
    "species-accumulation": _species_accumulation,
}


def chart(table: Table) -> Chart:
    """The table drawn, titled, with its caption underneath."""
    figure = Figure(figsize=(WIDTH_IN, 5.0), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    # The chart and its caption each in a part of their own, so that no axis label or
    # shared label runs into the caption whatever the chart's height.
    grid = figure.add_gridspec(2, 1)
    top, bottom = figure.add_subfigure(grid[0]), figure.add_subfigure(grid[1])
    drawn = _CHARTS[table.name](table, top) if table.rows else None
    if drawn is None:
        drawn = _nothing(table, top)
    top.suptitle(table.title)
    text = caption(table, drawn.notes)
    lines = [
        wrapped
        for line in text.splitlines()
        for wrapped in textwrap.wrap(line, CAPTION_CHARS, subsequent_indent="  ")
    ]
    caption_in = CAPTION_PAD_IN * 2 + CAPTION_LINE_IN * len(lines)
    figure.set_size_inches(WIDTH_IN, drawn.height_in + caption_in)
    grid.set_height_ratios([drawn.height_in, caption_in])
    bottom.text(
        CAPTION_PAD_IN / WIDTH_IN,
        1 - CAPTION_PAD_IN / caption_in,
        "\n".join(lines),
        ha="left",
        va="top",
        fontsize=CAPTION_POINTS,
        linespacing=1.3,
    )
    return Chart(figure, table.title, text, drawn.panels, drawn.message)


def to_png(table: Table) -> bytes:
    drawn = chart(table)
    out = io.BytesIO()
    drawn.figure.savefig(
        out,
        format="png",
        metadata={"Title": drawn.title, "Description": drawn.description},
    )
    return out.getvalue()
