from __future__ import annotations

import itertools
import uuid
from typing import Any

from pydantic import BaseModel, Field, model_validator

__all__ = ["AcquisitionPublic", "DepthBin", "DepthBins", "ProcessPublic", "SamplePublic"]

# More bins than any profile has (a 6000 m cast in 1 m bins), few enough to check at once.
MAX_DEPTH_BINS = 10_000


class DepthBin(BaseModel):
    """Metres below the surface, the bin's top included and its bottom not."""

    depth_min: float = Field(ge=0, le=12_000)
    depth_max: float = Field(gt=0, le=12_000)
    images: int = Field(ge=1, le=10_000_000, description="Images the instrument took there.")

    @model_validator(mode="after")
    def _ordered(self) -> DepthBin:
        if self.depth_max <= self.depth_min:
            raise ValueError("depth_max must be deeper than depth_min")
        return self


class DepthBins(BaseModel):
    bins: list[DepthBin] = Field(max_length=MAX_DEPTH_BINS)

    @model_validator(mode="after")
    def _apart(self) -> DepthBins:
        ordered = sorted(self.bins, key=lambda b: b.depth_min)
        for upper, lower in itertools.pairwise(ordered):
            if lower.depth_min < upper.depth_max:
                raise ValueError(
                    f"the bins {upper.depth_min}-{upper.depth_max} m and "
                    f"{lower.depth_min}-{lower.depth_max} m overlap"
                )
        self.bins = ordered
        return self


class AcquisitionPublic(BaseModel):
    id: uuid.UUID
    external_id: str = Field(description="EcoTaxa's acq_id.")
    fields: dict[str, Any] = Field(description="Its acq_* columns, without the prefix.")
    objects: int


class ProcessPublic(BaseModel):
    id: uuid.UUID
    external_id: str = Field(description="EcoTaxa's process_id.")
    fields: dict[str, Any] = Field(description="Its process_* columns, without the prefix.")


class SamplePublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    external_id: str = Field(description="EcoTaxa's sample_id.")
    latitude: float | None
    longitude: float | None
    coordinates_generalised: bool = Field(
        description="A sensitive taxon was seen in the sample: its position (here and in "
        "fields) is its grid cell's centre for callers without precise_locations."
    )
    fields: dict[str, Any] = Field(description="Its sample_* columns, without the prefix.")
    objects: int = Field(description="Objects of the sample the caller may see.")
    depth_min: float | None = Field(description="The shallowest of its objects, metres.")
    depth_max: float | None
    depth_bins: list[DepthBin] = Field(description="A profile's images per depth bin.")
    acquisitions: list[AcquisitionPublic]
    processes: list[ProcessPublic] = Field(description="The processes that cut its objects.")
