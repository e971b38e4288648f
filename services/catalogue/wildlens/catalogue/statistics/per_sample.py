"""Per-sample statistics of single objects (plankton): abundance per sample and taxon,
concentration per cubic metre, and biovolume per cubic metre, as EcoTaxa computes them
(``volumes``).

An object counts with its current label (a person's over a machine's), in the states asked
(validated only by default), morphological categories (detritus, artefact, bubble) left out
unless asked. Net samples give one row per sample and taxon; profiles (an acquisition with
``acq_volimage``) one per depth bin of the sample's ``depth_bins`` and taxon, or, asked for
one per sample, one over all its bins' images. A statistic
that needs a volume the data lacks is refused (409), every missing input named.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Observation, Project
from wildlens.catalogue.objects.measures import (
    MeasuredObject,
    ObjectSet,
    measured_objects,
    taxon_names,
)
from wildlens.catalogue.objects.samples import sensitive_samples
from wildlens.catalogue.observations.current import current_observations
from wildlens.catalogue.privacy import PrivacyView
from wildlens.catalogue.statistics.params import ObjectScope, Scope
from wildlens.catalogue.statistics.tables import Table
from wildlens.catalogue.statistics.volumes import (
    AREA_FORMULA,
    BIOVOLUME_CONCENTRATION_FORMULA,
    ELLIPSE_FORMULA,
    NET_FORMULA,
    UVP_FORMULA,
    biovolume_mm3,
    number,
    pixel_size,
)
from wildlens.catalogue.taxa.repository import descendants
from wildlens.common.errors import Conflict, FieldError

__all__ = ["OBJECT_RULE", "OBJECT_STATISTICS", "per_sample"]

OBJECT_STATISTICS = ("abundance", "concentration", "biovolume")
OBJECT_RULE = (
    "each object counted once, with its current label (a person's over a machine's), in the "
    "states asked; morphological categories left out unless asked"
)
_PLACE = ["sample_id", "sample", "latitude", "longitude"]
_PIXEL = ["pixel_size", "pixel_column", "pixel_unit", "pixel_mm"]
_INPUTS = {
    "sample_tot_vol_m3": "the sample's volume (sample_tot_vol, m³), net samples",
    "acq_sub_part": "the fraction of the sample imaged is 1/acq_sub_part, net samples",
    "acq_volimage_l": "the volume one image holds (acq_volimage, litres), profiles",
    "images": "images taken in the depth bin (the sample's depth_bins), profiles",
    "sampled_volume_m3": "the water the row's objects were found in: objects ÷ concentration",
}


@dataclass
class _Row:
    objects: int = 0
    weight: float = 0.0
    measured: int = 0
    biovolume: float = 0.0
    biovolume_weighted: float = 0.0
    inputs: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))


def _label(o: MeasuredObject, states: tuple[str, ...]) -> Observation | None:
    """The observation the object counts as, when it counts."""
    for observation in current_observations(o.observations):
        if observation.verification_state in states and observation.scientific_name:
            return observation
    return None


def _value(values: set[Any]) -> Any:
    """One input's values over a row's objects: the value, or each of them."""
    found = sorted(v for v in values if v is not None)
    if not found:
        return None
    return found[0] if len(found) == 1 else "; ".join(str(v) for v in found)


def _depth(o: MeasuredObject) -> float | None:
    if o.depth_min is not None and o.depth_max is not None:
        return (o.depth_min + o.depth_max) / 2
    return o.depth_min if o.depth_min is not None else o.depth_max


class _Problems:
    def __init__(self, project_id: uuid.UUID) -> None:
        self.project_id = project_id
        self.found: dict[str, FieldError] = {}

    def add(self, where: list[str | int], message: str) -> None:
        self.found.setdefault(
            message, FieldError(location=where, message=message, type="missing_input")
        )

    def raise_if_any(self, name: str) -> None:
        if self.found:
            problems = list(self.found.values())
            raise Conflict(
                f"{name} cannot be computed: " + "; ".join(p.message for p in problems),
                fields=problems,
            )


async def _in_scope(
    session: AsyncSession, data: ObjectSet, s: Scope, o: ObjectScope
) -> tuple[list[tuple[MeasuredObject, Observation]], list[str]]:
    taxa = await descendants(session, s.taxon_id) if s.taxon_id is not None else None
    names = await taxon_names(session, taxa) if taxa else set()
    kept: list[tuple[MeasuredObject, Observation]] = []
    without_sample = 0
    for obj in data.objects:
        if o.sample_ids and obj.sample_id not in o.sample_ids:
            continue
        if s.captured_from and (obj.captured_at is None or obj.captured_at < s.captured_from):
            continue
        if s.captured_to and (obj.captured_at is None or obj.captured_at >= s.captured_to):
            continue
        label = _label(obj, o.states)
        if label is None:
            continue
        if label.category == "morphological" and not o.morphological:
            continue
        if taxa is not None and not (
            label.taxon_id in taxa or (label.taxon_id is None and label.scientific_name in names)
        ):
            continue
        if obj.sample_id is None:
            without_sample += 1
            continue
        kept.append((obj, label))
    notes = (
        [f"{without_sample} objects belong to no sample and are left out."]
        if without_sample
        else []
    )
    return kept, notes


def _profiles(data: ObjectSet) -> set[uuid.UUID]:
    """The samples with an acquisition that imaged a known volume per image (a UVP's)."""
    return {
        a.sample_id
        for a in data.acquisitions.values()
        if a.sample_id is not None and number(a.fields, "volimage") is not None
    }


def _bin(sample_bins: list[dict[str, float]], depth: float | None) -> dict[str, float] | None:
    if depth is None:
        return None
    for i, b in enumerate(sample_bins):
        last = i == len(sample_bins) - 1
        if b["depth_min"] <= depth < b["depth_max"] or (last and depth == b["depth_max"]):
            return b
    return None


async def per_sample(
    session: AsyncSession,
    project: Project,
    name: str,
    s: Scope,
    o: ObjectScope,
    view: PrivacyView,
    conditions: list[Any],
) -> Table:
    """The per-sample statistic ``name`` (one of ``OBJECT_STATISTICS``)."""
    data = await measured_objects(session, project.id, conditions)
    kept, notes = await _in_scope(session, data, s, o)
    sensitive = (
        await sensitive_samples(session, project.id, view.sensitive_observation())
        if view.generalises
        else set()
    )
    problems = _Problems(project.id)
    profiles = _profiles(data)
    needs_volume = name != "abundance"
    rows: dict[tuple[uuid.UUID, Any, str, uuid.UUID | None], _Row] = defaultdict(_Row)
    depth_range: dict[uuid.UUID, list[float]] = defaultdict(list)
    outside_bins = 0
    for obj, label in kept:
        assert obj.sample_id is not None
        sample = data.samples[obj.sample_id]
        depth = _depth(obj)
        if depth is not None:
            depth_range[sample.id].append(depth)
        key_bin: Any = None
        weight = 0.0
        row_inputs: dict[str, Any] = {}
        if needs_volume:
            acquisition = data.acquisitions.get(obj.acquisition_id) if obj.acquisition_id else None
            where = f"sample {sample.external_id}"
            if sample.id in profiles:
                volimage = number(acquisition.fields, "volimage") if acquisition else None
                if volimage is None:
                    problems.add(
                        ["sample", sample.external_id, "acq_volimage"],
                        f"{where}: acq_volimage (litres per image) is missing for acquisition "
                        f"{acquisition.external_id if acquisition else '(none)'}",
                    )
                    continue
                if not sample.depth_bins:
                    problems.add(
                        ["sample", sample.external_id, "depth_bins"],
                        f"{where} is a profile (acq_volimage given) without its images per "
                        f"depth bin: give them with PUT /v1/projects/{project.id}/samples/"
                        f"{sample.id}/depth-bins",
                    )
                    continue
                b = _bin(sample.depth_bins, depth)
                if b is None:
                    outside_bins += 1
                    continue
                if o.by_depth_bin:
                    key_bin = (b["depth_min"], b["depth_max"])
                    images = int(b["images"])
                else:
                    # The whole profile: every bin's images, the water they imaged.
                    images = int(sum(x["images"] for x in sample.depth_bins))
                weight = 1000 / (volimage * images)
                row_inputs = {"acq_volimage_l": volimage, "images": images}
            else:
                total = number(sample.fields, "tot_vol")
                sub_part = number(acquisition.fields, "sub_part") if acquisition else None
                if total is None:
                    problems.add(
                        ["sample", sample.external_id, "sample_tot_vol"],
                        f"{where}: sample_tot_vol (m³ of water sampled) is missing",
                    )
                if sub_part is None:
                    problems.add(
                        ["sample", sample.external_id, "acq_sub_part"],
                        f"{where}: acq_sub_part (the fraction imaged is 1/acq_sub_part) is "
                        f"missing for acquisition "
                        f"{acquisition.external_id if acquisition else '(none)'}",
                    )
                if total is None or sub_part is None:
                    continue
                weight = sub_part / total
                row_inputs = {"sample_tot_vol_m3": total, "acq_sub_part": sub_part}
            if not math.isfinite(weight):
                # A volume so small (or a count so large) that no concentration comes of it.
                problems.add(
                    ["sample", sample.external_id],
                    f"{where}: its volumes give no finite concentration ({row_inputs})",
                )
                continue
        row = rows[(sample.id, key_bin, label.scientific_name, label.taxon_id)]
        row.objects += 1
        row.weight += weight
        for k, v in row_inputs.items():
            row.inputs[k].add(v)
        if name == "biovolume":
            process = data.processes.get(obj.process_id) if obj.process_id else None
            acquisition = data.acquisitions.get(obj.acquisition_id) if obj.acquisition_id else None
            pixel = pixel_size(
                process.fields if process else None,
                acquisition.fields if acquisition else None,
                o.pixel_unit,
            )
            if pixel is None:
                problems.add(
                    ["process", process.external_id if process else "", "process_pixel"],
                    f"process {process.external_id if process else '(none)'} of sample "
                    f"{sample.external_id}: the pixel's size is missing (neither process_pixel "
                    "nor acq_pixel)",
                )
                continue
            row.inputs["pixel_size"].add(pixel.written)
            row.inputs["pixel_column"].add(pixel.column)
            row.inputs["pixel_unit"].add(pixel.unit)
            row.inputs["pixel_mm"].add(pixel.mm)
            row.inputs["pixel_read"].add((pixel.column, pixel.unit))
            volume = biovolume_mm3(obj.sizes, pixel.mm, o.biovolume_from)
            if volume is not None:
                row.measured += 1
                row.biovolume += volume
                row.biovolume_weighted += volume * weight
    problems.raise_if_any(name)
    if outside_bins:
        notes.append(f"{outside_bins} objects lie outside every depth bin and are left out.")
    return _table(name, data, rows, depth_range, view, sensitive, o, notes)


def _pixel_inputs(
    rows: dict[tuple[uuid.UUID, Any, str, uuid.UUID | None], _Row], o: ObjectScope
) -> dict[str, str]:
    """What the pixel columns hold, naming each column read and the unit it was read in."""
    units = {"um": "µm", "mm": "mm"}
    read = sorted({pair for r in rows.values() for pair in r.inputs["pixel_read"]})
    how = (
        f"pixel_unit={o.pixel_unit} asked"
        if o.pixel_unit
        else "a size of 1 or more read as µm, below 1 as mm"
    )
    used = "; ".join(f"{c} read in {units[u]}" for c, u in read) or "none read"
    return {
        "pixel_size": "the pixel's size as written (process_pixel, else acq_pixel)",
        "pixel_column": "the column the pixel's size was read from",
        "pixel_unit": f"the unit it was read in, um or mm ({how})",
        "pixel_mm": f"the pixel's size in mm used in the formula ({used})",
    }


def _table(
    name: str,
    data: ObjectSet,
    rows: dict[tuple[uuid.UUID, Any, str, uuid.UUID | None], _Row],
    depth_range: dict[uuid.UUID, list[float]],
    view: PrivacyView,
    sensitive: set[uuid.UUID],
    o: ObjectScope,
    notes: list[str],
) -> Table:
    columns = {
        "abundance": [*_PLACE, "taxon", "taxon_id", "objects"],
        "concentration": [
            *_PLACE,
            "depth_min",
            "depth_max",
            "taxon",
            "taxon_id",
            "objects",
            "sample_tot_vol_m3",
            "acq_sub_part",
            "acq_volimage_l",
            "images",
            "sampled_volume_m3",
            "concentration_per_m3",
        ],
        "biovolume": [
            *_PLACE,
            "depth_min",
            "depth_max",
            "taxon",
            "taxon_id",
            "objects",
            "objects_measured",
            *_PIXEL,
            "sample_tot_vol_m3",
            "acq_sub_part",
            "acq_volimage_l",
            "images",
            "sampled_volume_m3",
            "biovolume_mm3",
            "biovolume_mm3_per_m3",
        ],
    }[name]
    size = ELLIPSE_FORMULA if o.biovolume_from == "ellipse" else AREA_FORMULA
    formula = {
        "abundance": "abundance = the number of objects of each taxon in each sample",
        "concentration": f"{NET_FORMULA}; {UVP_FORMULA}",
        "biovolume": f"{size}; {BIOVOLUME_CONCENTRATION_FORMULA}; {NET_FORMULA}; {UVP_FORMULA}",
    }[name]
    title = {
        "abundance": "Objects per sample and taxon",
        "concentration": "Concentration per sample and taxon (individuals per m³)",
        "biovolume": "Biovolume per sample and taxon (mm³ per m³)",
    }[name]
    inputs = {k: v for k, v in _INPUTS.items() if k in columns}
    if name == "biovolume":
        inputs |= _pixel_inputs(rows, o)
    table = Table(
        name, title, columns, rules=(OBJECT_RULE,), formula=formula, inputs=inputs, notes=notes
    )

    def order(key: tuple[uuid.UUID, Any, str, uuid.UUID | None]) -> tuple[Any, ...]:
        sample = data.samples[key[0]]
        return (sample.external_id, key[1] or (0.0, 0.0), key[2])

    for key in sorted(rows, key=order):
        sample_id, bin_, taxon, taxon_id = key
        sample, r = data.samples[sample_id], rows[key]
        hidden = sample_id in sensitive
        latitude, longitude = sample.latitude, sample.longitude
        if latitude is not None and longitude is not None:
            place = view.place(latitude, longitude, sensitive=hidden)
            latitude, longitude = place.latitude, place.longitude
        row: dict[str, Any] = {
            "sample_id": sample_id,
            "sample": sample.external_id,
            "latitude": latitude,
            "longitude": longitude,
            "taxon": taxon,
            "taxon_id": taxon_id,
            "objects": r.objects,
        }
        if name != "abundance":
            depths = depth_range.get(sample_id) or []
            low, high = bin_ or ((min(depths), max(depths)) if depths else (None, None))
            concentration = r.weight
            row |= {
                "depth_min": low,
                "depth_max": high,
                **{k: _value(r.inputs.get(k, set())) for k in _INPUTS if k != "sampled_volume_m3"},
                "sampled_volume_m3": r.objects / concentration if concentration else None,
            }
            if name == "concentration":
                row["concentration_per_m3"] = concentration
            else:
                row |= {
                    "objects_measured": r.measured,
                    **{k: _value(r.inputs.get(k, set())) for k in _PIXEL},
                    "biovolume_mm3": r.biovolume,
                    "biovolume_mm3_per_m3": r.biovolume_weighted,
                }
        table.rows.append({c: row.get(c) for c in columns})
    return table
