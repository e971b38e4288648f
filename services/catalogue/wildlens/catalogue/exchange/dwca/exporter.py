"""A project as a Darwin Core Archive for GBIF: a sampling-event dataset.

* ``event.txt`` (the core): one sampling event per deployment, its dates, place and effort in
  trap-nights (the deployment's span in days).
* ``occurrence.txt`` (an extension, keyed by event): one row per animal observation with a
  scientific name. ``basisOfRecord`` is ``MachineObservation`` for a machine's label and
  ``HumanObservation`` for a person's; ``identificationVerificationStatus`` is the
  observation's verification state (validated → verified, dubious → questionable; a
  volunteers' consensus no expert has judged → "volunteer consensus", with its agreement in
  ``identificationRemarks``; otherwise unverified), and discarded observations are left out.
  Where a sequence has event-level observations (a person's count of the whole sequence,
  Camtrap DP style) those stand for it, not its media-level ones, so that one animal is not
  counted twice.
* Absences: for every deployment with effort, each of the project's taxa (its expected
  species list) seen nowhere in it, itself or below, gets an ``absent`` occurrence with
  ``individualCount`` 0.
* Every occurrence repeats its deployment's place (``countryCode`` where the location knows
  its country, coordinates generalised as the event's are for callers who may not see a
  sensitive place exactly), so that readers of the occurrences alone find where they were.
* A project of single objects is written as EcoTaxa writes one (``objects``): an event per
  sample, occurrences per taxon and sample, concentrations and biovolumes as measurements.
* ``meta.xml`` maps every column to its term; ``eml.xml`` (EML 2.2.0) describes the dataset.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.exchange.countries import countries_of
from wildlens.catalogue.exchange.dwca.metadata import write_eml, write_meta
from wildlens.catalogue.exchange.dwca.objects import write_object_archive
from wildlens.catalogue.exchange.dwca.terms import EVENT_TERMS, OCCURRENCE_TERMS
from wildlens.catalogue.exchange.dwca.writing import write_table
from wildlens.catalogue.exchange.repository import ProjectSnapshot
from wildlens.catalogue.exchange.taxon_terms import authority_id, kingdoms
from wildlens.catalogue.models import VOLUNTEERS_PREFIX, Deployment, Observation
from wildlens.catalogue.models.clock import parse_offset
from wildlens.catalogue.taxa.repository import descendants

__all__ = ["write_archive"]

_VERIFICATION = {"validated": "verified", "dubious": "questionable"}
_BASIS = {"machine": "MachineObservation", "human": "HumanObservation"}
# A volunteers' consensus no expert has judged yet: neither an expert's verdict nor a guess.
_VOLUNTEER_CONSENSUS = "volunteer consensus"


def _verification(o: Observation) -> list[str]:
    """Who verified or doubted the identification, where that is not its identifier.

    ``identifiedBy`` stays who classified it (a model, ``volunteers:...`` or a person, whose
    own identification counts as verified); Darwin Core has no verifier term, so a second
    person's verdict is told in ``identificationRemarks``."""
    verb = {"validated": "verified", "dubious": "questioned"}.get(o.verification_state)
    if verb is None or not o.verified_by or o.verified_by == o.classified_by:
        return []
    when = f" on {o.verified_at.astimezone(UTC).isoformat()}" if o.verified_at else ""
    return [f"{verb} by {o.verified_by}{when}"]


def _event_id(d: Deployment) -> str:
    return d.external_id or str(d.id)


def _iso(value: datetime, offset: str) -> str:
    return value.astimezone(parse_offset(offset)).isoformat()


def _trap_nights(d: Deployment) -> float | None:
    if d.end is None or d.end <= d.start:
        return None
    return round((d.end - d.start).total_seconds() / 86400, 3)


def _sequence_key(o: Observation, snapshot: ProjectSnapshot) -> str:
    if o.event_external_id:
        return f"event:{o.event_external_id}"
    medium = snapshot.medium(o.media_id) if o.media_id else None
    event_id = getattr(medium, "event_id", None) if medium else None
    return f"catalogue:{event_id}" if event_id else f"observation:{o.id}"


def _occurring(snapshot: ProjectSnapshot, ctx: ExportContext) -> list[Observation]:
    """The observations that are occurrences: animals with a name, not discarded, visible
    in this export, and for each sequence its event-level ones where it has them."""
    kept = [
        o
        for o in snapshot.observations
        if o.observation_type == "animal"
        and o.scientific_name
        and getattr(o, "verification_state", "predicted") != "discarded"
        and ctx.coordinates.shows(o.media_id)
        and snapshot.observation_deployment(o) is not None
    ]
    with_event_level = {_sequence_key(o, snapshot) for o in kept if o.observation_level == "event"}
    return [
        o
        for o in kept
        if o.observation_level == "event" or _sequence_key(o, snapshot) not in with_event_level
    ]


def _place(
    d: Deployment, snapshot: ProjectSnapshot, ctx: ExportContext, countries: dict[Any, str]
) -> dict[str, Any]:
    """The place terms of a deployment: its country (its location's region, an ISO 3166
    country or subdivision code, else where its coordinates lie), and its coordinates exact or
    generalised by the privacy rules for this export's caller."""
    location = snapshot.locations[d.location_id]
    place = ctx.coordinates.place(location, d.coordinate_uncertainty)
    country = location.region[:2] or countries.get((location.latitude, location.longitude))
    return {
        "countryCode": country.upper() if country else None,
        "decimalLatitude": place.latitude,
        "decimalLongitude": place.longitude,
        "geodeticDatum": "EPSG:4326",
        "coordinateUncertaintyInMeters": place.uncertainty_m,
        "coordinatePrecision": place.precision,
    }


async def write_archive(ctx: ExportContext) -> None:
    if ctx.project.media_kind == "objects":
        await write_object_archive(ctx)
        return
    session = ctx.session
    snapshot = await repository.load_snapshot(session, ctx.project)
    await ctx.progress(0.3)
    licence = ctx.project.data_license
    taxa_ids = {o.taxon_id for o in snapshot.observations if o.taxon_id is not None}
    expected = await repository.expected_taxa(session, ctx.project.id)
    taxa = {t.id: t for t in expected}
    missing = [t for t in taxa_ids if t not in taxa]
    if missing:
        taxa.update(await repository.taxa_by_id(session, missing))
    by_name = {t.scientific_name: t for t in taxa.values()}
    kingdom = await kingdoms(session, list(taxa))

    # Where each deployment was, as this export may show it; its events and occurrences say so.
    unplaced = [(x.latitude, x.longitude) for x in snapshot.locations.values() if not x.region]
    countries = await asyncio.to_thread(countries_of, unplaced)
    places = {d.id: _place(d, snapshot, ctx, countries) for d in snapshot.deployments}
    events: list[dict[str, Any]] = []
    for d in snapshot.deployments:
        location = snapshot.locations[d.location_id]
        nights = _trap_nights(d)
        end = d.end or d.start
        events.append(
            {
                "eventID": _event_id(d),
                "eventDate": f"{_iso(d.start, d.utc_offset)}/{_iso(end, d.utc_offset)}",
                "samplingProtocol": "camera trap",
                "sampleSizeValue": nights,
                "sampleSizeUnit": "trap-nights" if nights is not None else None,
                "samplingEffort": f"{nights} trap-nights" if nights is not None else None,
                "locationID": location.external_id or str(location.id),
                "locality": location.name,
                **places[d.id],
                "habitat": d.habitat,
                "eventRemarks": d.deployment_comments,
            }
        )

    occurrences: list[dict[str, Any]] = []
    seen: dict[uuid.UUID, set[str]] = defaultdict(set)
    seen_ids: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for o in _occurring(snapshot, ctx):
        deployment_id = snapshot.observation_deployment(o)
        assert deployment_id is not None
        deployment = snapshot.deployment(deployment_id)
        taxon = taxa.get(o.taxon_id) if o.taxon_id else by_name.get(o.scientific_name)
        medium = snapshot.medium(o.media_id) if o.media_id else None
        when = o.event_start or (medium.captured_at if medium else None)
        event_date = _iso(when, deployment.utc_offset) if when else None
        if o.event_end and o.event_start and o.event_end != o.event_start:
            event_date = f"{event_date}/{_iso(o.event_end, deployment.utc_offset)}"
        # When the identifier said so; an imported record that does not say has no date (the
        # import's time is not when anybody identified it).
        identified = o.classification_timestamp or (o.classified_at if not o.external_id else None)
        remarks = []
        volunteers = o.classification_method == "human" and o.classified_by.startswith(
            VOLUNTEERS_PREFIX
        )
        if o.confidence is not None and volunteers:
            remarks.append(f"volunteers' agreement {o.confidence:.3f}")
        elif o.confidence is not None:
            remarks.append(f"classification probability {o.confidence:.3f}")
        if o.classification_method == "machine" and o.classified_by:
            remarks.append(f"classified by model {o.classified_by}")
        remarks += _verification(o)
        occurrences.append(
            {
                "eventID": _event_id(deployment),
                "occurrenceID": o.external_id or str(o.id),
                "basisOfRecord": _BASIS.get(o.classification_method, "MachineObservation"),
                "occurrenceStatus": "present",
                "individualCount": o.count if o.count is not None else 1,
                "scientificName": o.scientific_name,
                "scientificNameID": authority_id(taxon),
                "taxonRank": taxon.rank if taxon else None,
                "kingdom": kingdom.get(taxon.id) if taxon else None,
                "vernacularName": (taxon.vernacular_names.get("en") if taxon else None),
                "eventDate": event_date,
                **places[deployment_id],
                "sex": o.sex,
                "lifeStage": o.life_stage,
                "behavior": o.behavior,
                "identifiedBy": o.classified_by,
                "dateIdentified": identified.astimezone(UTC).isoformat() if identified else None,
                "identificationVerificationStatus": _VERIFICATION.get(
                    getattr(o, "verification_state", "predicted"),
                    _VOLUNTEER_CONSENSUS if volunteers else "unverified",
                ),
                "identificationRemarks": "; ".join(remarks),
                "associatedMedia": medium.file_path
                if medium and "://" in medium.file_path
                else None,
                "license": licence,
            }
        )
        seen[deployment_id].add(o.scientific_name)
        if o.taxon_id:
            seen_ids[deployment_id].add(o.taxon_id)
    await ctx.progress(0.7)

    # Absences: what the project expects, looked for over a deployment's effort and not seen.
    subtree = {t.id: await descendants(session, t.id) for t in expected}
    names = {t.id: t.scientific_name for t in taxa.values()}
    all_taxa = set().union(*subtree.values()) if subtree else set()
    if all_taxa - set(names):
        more = [i for i in all_taxa if i not in names]
        names.update(await repository.scientific_names(session, more))
    event_dates = {e["eventID"]: e["eventDate"] for e in events}
    for d in snapshot.deployments:
        if _trap_nights(d) is None:
            continue
        for t in expected:
            below = subtree[t.id]
            below_names = {names[i] for i in below if i in names}
            if seen_ids[d.id] & below or seen[d.id] & below_names:
                continue
            occurrences.append(
                {
                    "eventID": _event_id(d),
                    "occurrenceID": f"{_event_id(d)}:absent:{t.external_id}",
                    "basisOfRecord": "MachineObservation",
                    "occurrenceStatus": "absent",
                    "individualCount": 0,
                    "scientificName": t.scientific_name,
                    "scientificNameID": authority_id(t),
                    "taxonRank": t.rank,
                    "kingdom": kingdom.get(t.id),
                    "vernacularName": t.vernacular_names.get("en"),
                    "eventDate": event_dates[_event_id(d)],
                    **places[d.id],
                    "identificationRemarks": "not detected during the deployment's effort",
                    "license": licence,
                }
            )
    await ctx.progress(0.85)

    write_table(ctx.folder / "event.txt", EVENT_TERMS, events)
    write_table(ctx.folder / "occurrence.txt", OCCURRENCE_TERMS, occurrences)
    write_meta(ctx.folder / "meta.xml")
    write_eml(ctx.folder / "eml.xml", ctx.project, snapshot, ctx.coordinates)
