"""The Darwin Core terms the archive's two tables carry, in column order."""

from __future__ import annotations

__all__ = [
    "DWC",
    "EMOF",
    "EMOF_TERMS",
    "EVENT_TERMS",
    "OBJECT_EVENT_TERMS",
    "OCCURRENCE_TERMS",
    "term_uri",
]

DWC = "http://rs.tdwg.org/dwc/terms/"
_DC = "http://purl.org/dc/terms/"

# The event core: one sampling event per deployment, with its effort.
EVENT_TERMS = [
    "eventID",
    "eventDate",
    "samplingProtocol",
    "sampleSizeValue",
    "sampleSizeUnit",
    "samplingEffort",
    "locationID",
    "locality",
    "countryCode",
    "decimalLatitude",
    "decimalLongitude",
    "geodeticDatum",
    "coordinateUncertaintyInMeters",
    "coordinatePrecision",
    "habitat",
    "eventRemarks",
]

# The occurrence extension; its first column is the event it belongs to (``coreid``).
OCCURRENCE_TERMS = [
    "eventID",
    "occurrenceID",
    "basisOfRecord",
    "occurrenceStatus",
    "individualCount",
    "scientificName",
    "scientificNameID",
    "taxonRank",
    "kingdom",
    "vernacularName",
    "eventDate",
    # The place again on every occurrence (as its event gives it, generalised alike), so that
    # a reader of the occurrences alone, as GBIF's occurrence search is, finds where it was.
    "countryCode",
    "decimalLatitude",
    "decimalLongitude",
    "geodeticDatum",
    "coordinateUncertaintyInMeters",
    "coordinatePrecision",
    "sex",
    "lifeStage",
    "behavior",
    "identifiedBy",
    "dateIdentified",
    "identificationVerificationStatus",
    "identificationRemarks",
    "associatedMedia",
    "license",
]

# Single objects' archives: one event per sample, with its depth range.
OBJECT_EVENT_TERMS = [*EVENT_TERMS, "minimumDepthInMeters", "maximumDepthInMeters"]

# OBIS's extended MeasurementOrFact extension (what EcoTaxa's own archives carry): the
# concentration and biovolume of each taxon in each sample, tied to its occurrence.
EMOF = "http://rs.iobis.org/obis/terms/ExtendedMeasurementOrFact"
EMOF_TERMS = [
    "eventID",
    "occurrenceID",
    "measurementID",
    "measurementType",
    "measurementValue",
    "measurementUnit",
    "measurementMethod",
    "measurementRemarks",
]

_DUBLIN_CORE = {"license"}


def term_uri(term: str) -> str:
    return f"{_DC if term in _DUBLIN_CORE else DWC}{term}"
