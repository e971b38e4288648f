"""A project of single objects (plankton) as a Darwin Core Archive, as EcoTaxa writes one.

* ``event.txt`` (the core): one sampling event per sample with validated objects: its dates
  (its objects' capture times), place (generalised, for callers without
  ``precise_locations``, where a sensitive taxon was seen in it), depth range, and the
  volume of water it sampled (m³).
* ``occurrence.txt``: one occurrence per taxon and sample, ``individualCount`` its validated
  objects (non-taxonomic categories left out).
* ``extendedmeasurementorfact.txt`` (OBIS's eMoF): each occurrence's concentration
  (individuals per m³) and biovolume (mm³ per m³), the values the per-sample statistics give
  for the whole sample, with the formula used as the method. Samples whose volume cannot be
  worked out (a profile without its images per depth bin) have none, and their events say
  why.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.exchange.dwca.metadata import write_eml, write_meta
from wildlens.catalogue.exchange.dwca.terms import (
    EMOF_TERMS,
    OBJECT_EVENT_TERMS,
    OCCURRENCE_TERMS,
)
from wildlens.catalogue.exchange.dwca.writing import write_table
from wildlens.catalogue.exchange.taxon_terms import authority_id, kingdoms
from wildlens.catalogue.objects.measures import measured_objects
from wildlens.catalogue.statistics.params import ObjectScope, Scope
from wildlens.catalogue.statistics.per_sample import per_sample
from wildlens.catalogue.statistics.tables import Table
from wildlens.common.errors import Conflict

__all__ = ["write_object_archive"]

_SCOPE = ObjectScope(by_depth_bin=False)
CONCENTRATION = (
    "Abundance of biological entity specified elsewhere per unit volume of the water body"
)
BIOVOLUME = "Biovolume of biological entity specified elsewhere per unit volume of the water body"


@dataclass
class _Measured:
    """A per-sample statistic's rows, how they were computed, and why not for the samples
    it cannot be computed for."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    formula: str = ""
    why_not: dict[uuid.UUID, str] = field(default_factory=dict)


async def _table(
    ctx: ExportContext, name: str, sample_ids: tuple[uuid.UUID, ...] = ()
) -> _Measured:
    """Over every sample at once, else sample by sample: one sample's missing input leaves
    the others' measurements in."""
    view = ctx.coordinates.view

    async def table(scope: ObjectScope) -> Table:
        return await per_sample(
            ctx.session, ctx.project, name, Scope(), scope, view, view.visible_media()
        )

    try:
        whole = await table(_SCOPE)
        return _Measured(list(whole.rows), whole.formula)
    except Conflict:
        pass
    measured = _Measured()
    for sample_id in sample_ids:
        try:
            one = await table(replace(_SCOPE, sample_ids=(sample_id,)))
        except Conflict as exc:
            measured.why_not[sample_id] = exc.detail
            continue
        measured.rows += one.rows
        measured.formula = one.formula
    return measured


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


async def write_object_archive(ctx: ExportContext) -> None:
    session, project = ctx.session, ctx.project
    abundance = (await _table(ctx, "abundance")).rows  # abundance needs no volume
    sample_ids = tuple(sorted({r["sample_id"] for r in abundance}, key=str))
    concentration = await _table(ctx, "concentration", sample_ids)
    biovolume = await _table(ctx, "biovolume", sample_ids)
    await ctx.progress(0.4)
    data = await measured_objects(session, project.id, ctx.coordinates.view.visible_media())
    times: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    depths: dict[uuid.UUID, list[float]] = defaultdict(list)
    for o in data.objects:
        if o.sample_id is None:
            continue
        if o.captured_at is not None:
            times[o.sample_id].append(o.captured_at)
        depths[o.sample_id] += [d for d in (o.depth_min, o.depth_max) if d is not None]

    def key(row: dict[str, Any]) -> tuple[Any, str]:
        return row["sample_id"], row["taxon"]

    concentrations = {key(r): r for r in concentration.rows}
    biovolumes = {key(r): r for r in biovolume.rows}
    taxon_ids = [r["taxon_id"] for r in abundance if r["taxon_id"]]
    taxa = await repository.taxa_by_id(session, list(set(taxon_ids)))
    kingdom = await kingdoms(session, list(taxa))

    events: dict[uuid.UUID, dict[str, Any]] = {}
    occurrences: list[dict[str, Any]] = []
    measurements: list[dict[str, Any]] = []
    for row in abundance:
        sample = data.samples[row["sample_id"]]
        event_id = sample.external_id
        place = {
            "decimalLatitude": row["latitude"],
            "decimalLongitude": row["longitude"],
            "geodeticDatum": "EPSG:4326" if row["latitude"] is not None else None,
        }
        measured = concentrations.get(key(row))
        if sample.id not in events:
            when = sorted(times.get(sample.id, []))
            volume = measured["sampled_volume_m3"] if measured else None
            events[sample.id] = {
                "eventID": event_id,
                "eventDate": (
                    _iso(when[0]) if when[0] == when[-1] else f"{_iso(when[0])}/{_iso(when[-1])}"
                )
                if when
                else None,
                "samplingProtocol": str(
                    next(
                        (
                            a.fields.get("instrument")
                            for a in data.acquisitions.values()
                            if a.sample_id == sample.id and a.fields.get("instrument")
                        ),
                        "",
                    )
                )
                or None,
                "sampleSizeValue": volume,
                "sampleSizeUnit": "cubic metre" if volume is not None else None,
                "locationID": event_id,
                **place,
                "coordinatePrecision": None,
                "minimumDepthInMeters": min(depths[sample.id]) if depths[sample.id] else None,
                "maximumDepthInMeters": max(depths[sample.id]) if depths[sample.id] else None,
                "eventRemarks": None if measured else concentration.why_not.get(sample.id),
            }
        taxon = taxa.get(row["taxon_id"]) if row["taxon_id"] else None
        occurrence_id = f"{event_id}:{row['taxon']}"
        occurrences.append(
            {
                "eventID": event_id,
                "occurrenceID": occurrence_id,
                "basisOfRecord": "MachineObservation",
                "occurrenceStatus": "present",
                "individualCount": row["objects"],
                "scientificName": row["taxon"],
                "scientificNameID": authority_id(taxon),
                "taxonRank": taxon.rank if taxon else None,
                "kingdom": kingdom.get(taxon.id) if taxon else None,
                "vernacularName": taxon.vernacular_names.get("en") if taxon else None,
                "eventDate": events[sample.id]["eventDate"],
                **place,
                "identificationVerificationStatus": "verified",
                "identificationRemarks": "objects validated by people from their images",
                "license": project.data_license,
            }
        )
        if measured is not None:
            measurements.append(
                {
                    "eventID": event_id,
                    "occurrenceID": occurrence_id,
                    "measurementID": f"{occurrence_id}:concentration",
                    "measurementType": CONCENTRATION,
                    "measurementValue": measured["concentration_per_m3"],
                    "measurementUnit": "individuals per cubic metre",
                    "measurementMethod": concentration.formula,
                }
            )
        sized = biovolumes.get(key(row))
        if sized is not None:
            measurements.append(
                {
                    "eventID": event_id,
                    "occurrenceID": occurrence_id,
                    "measurementID": f"{occurrence_id}:biovolume",
                    "measurementType": BIOVOLUME,
                    "measurementValue": sized["biovolume_mm3_per_m3"],
                    "measurementUnit": "cubic millimetres per cubic metre",
                    "measurementMethod": biovolume.formula,
                    "measurementRemarks": f"{sized['objects_measured']} of "
                    f"{sized['objects']} objects measured",
                }
            )
    await ctx.progress(0.8)
    write_table(ctx.folder / "event.txt", OBJECT_EVENT_TERMS, list(events.values()))
    write_table(ctx.folder / "occurrence.txt", OCCURRENCE_TERMS, occurrences)
    write_table(ctx.folder / "extendedmeasurementorfact.txt", EMOF_TERMS, measurements)
    write_meta(ctx.folder / "meta.xml", OBJECT_EVENT_TERMS, measurements=True)
    snapshot = await repository.load_snapshot(session, project)
    write_eml(ctx.folder / "eml.xml", project, snapshot, ctx.coordinates)
