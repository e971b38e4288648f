"""What a statistic is computed over, from the query string, checked before any query runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query

from wildlens.catalogue.statistics.volumes import BiovolumeFrom, PixelUnit
from wildlens.common.errors import FieldError, Invalid
from wildlens.common.http import Timestamp

__all__ = ["ObjectScope", "ObjectState", "Scope", "object_scope", "scope"]

# A week: beyond that "independent" no longer means anything at a camera station.
MAX_INDEPENDENCE_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Scope:
    captured_from: datetime | None = None
    captured_to: datetime | None = None
    location_ids: tuple[uuid.UUID, ...] = ()
    deployment_ids: tuple[uuid.UUID, ...] = ()
    taxon_id: uuid.UUID | None = None
    verified_only: bool = False
    # None: the project's setting (or the default).
    independence_interval_s: int | None = None

    def describe(self, interval_s: int) -> dict[str, Any]:
        """The scope as the response repeats it, so a saved result says what it covers."""
        return {
            "captured_from": self.captured_from,
            "captured_to": self.captured_to,
            "location_ids": list(self.location_ids),
            "deployment_ids": list(self.deployment_ids),
            "taxon_id": self.taxon_id,
            "verified_only": self.verified_only,
            "independence_interval_s": interval_s,
        }


def query_problem(name: str, message: str) -> FieldError:
    """A problem with the query parameter ``name``, as ``Invalid`` lists it."""
    return FieldError(location=["query", name], message=f"{name} {message}", type="value_error")


def scope(
    captured_from: Annotated[
        Timestamp | None,
        Query(description="Records at or after this time (RFC 3339 with offset)"),
    ] = None,
    captured_to: Annotated[
        Timestamp | None,
        Query(description="Records before this time (RFC 3339 with offset)"),
    ] = None,
    location_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these locations (repeatable)")
    ] = None,
    deployment_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these deployments (repeatable)")
    ] = None,
    taxon_id: Annotated[
        uuid.UUID | None, Query(description="Only this taxon and the taxa below it")
    ] = None,
    verified_only: Annotated[
        bool, Query(description="Only observations a person made or confirmed")
    ] = False,
    independence_interval_s: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_INDEPENDENCE_S,
            description="Records of one taxon at one location closer than this count as one "
            "detection (default: the project's setting)",
        ),
    ] = None,
) -> Scope:
    """The statistic's scope from the query string (FastAPI answers 422 for malformed ones)."""
    if captured_from and captured_to and captured_from >= captured_to:
        problem = query_problem("captured_to", "must be later than captured_from")
        raise Invalid(problem.message, fields=[problem])
    return Scope(
        captured_from=captured_from,
        captured_to=captured_to,
        location_ids=tuple(dict.fromkeys(location_id or [])),
        deployment_ids=tuple(dict.fromkeys(deployment_id or [])),
        taxon_id=taxon_id,
        verified_only=verified_only,
        independence_interval_s=independence_interval_s,
    )


ObjectState = Literal["predicted", "validated", "dubious"]


@dataclass(frozen=True)
class ObjectScope:
    """What the per-sample statistics of single objects count, beside ``Scope``."""

    sample_ids: tuple[uuid.UUID, ...] = ()
    states: tuple[ObjectState, ...] = ("validated",)
    morphological: bool = False
    biovolume_from: BiovolumeFrom = "ellipse"
    # Profiles: a row per depth bin, or one for the whole profile.
    by_depth_bin: bool = True
    # None: read from the size itself (1 or more: µm, below: mm).
    pixel_unit: PixelUnit | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "by_depth_bin": self.by_depth_bin,
            "sample_ids": [str(i) for i in self.sample_ids],
            "states": list(self.states),
            "include_morphological": self.morphological,
            "biovolume_from": self.biovolume_from,
            "pixel_unit": self.pixel_unit,
        }


def object_scope(
    sample_id: Annotated[
        list[uuid.UUID] | None,
        Query(description="Per-sample statistics: only these samples (repeatable)"),
    ] = None,
    state: Annotated[
        list[ObjectState] | None,
        Query(
            description="Per-sample statistics: objects whose label is in these states "
            "(repeatable; default validated only)"
        ),
    ] = None,
    include_morphological: Annotated[
        bool,
        Query(
            description="Per-sample statistics: count non-taxonomic categories (detritus, "
            "artefact, bubble) too"
        ),
    ] = False,
    biovolume_from: Annotated[
        BiovolumeFrom,
        Query(
            description="Biovolume: from the ellipse's axes (object_major, object_minor) or "
            "from the area's equivalent spherical diameter (object_area)"
        ),
    ] = "ellipse",
    by_depth_bin: Annotated[
        bool,
        Query(
            description="Profiles (UVP): a row per depth bin, or (false) one per sample over "
            "all its bins' images"
        ),
    ] = True,
    pixel_unit: Annotated[
        PixelUnit | None,
        Query(
            description="Biovolume: the unit of the pixel's size (process_pixel, else "
            "acq_pixel), um or mm; by default a size of 1 or more is read as µm (ZooScan's "
            "10.58) and one below 1 as mm (a UVP's 0.088)"
        ),
    ] = None,
) -> ObjectScope:
    return ObjectScope(
        sample_ids=tuple(dict.fromkeys(sample_id or [])),
        states=tuple(dict.fromkeys(state or ["validated"])),
        morphological=include_morphological,
        biovolume_from=biovolume_from,
        by_depth_bin=by_depth_bin,
        pixel_unit=pixel_unit,
    )
