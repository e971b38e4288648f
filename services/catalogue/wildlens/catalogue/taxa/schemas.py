from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from wildlens.common.text import NameRule


class TaxonSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str
    parent_id: uuid.UUID | None
    rank: str
    scientific_name: str
    vernacular_names: dict[str, str]


class TaxonPublic(TaxonSummary):
    authorship: str
    gbif_id: int | None
    worms_id: int | None
    taxonomic_status: str
    created_at: datetime
    updated_at: datetime


class TaxonDetail(TaxonPublic):
    # From the parent up to the root.
    ancestors: list[TaxonSummary]


class TaxaImported(BaseModel):
    rows: int
    created: int
    updated: int
    unchanged: int


class LabelMapItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Annotated[str, NameRule(200, min_length=1)]
    taxon_id: uuid.UUID


class LabelMapUpdate(BaseModel):
    """The whole map for one model; labels left out are no longer mapped."""

    model_config = ConfigDict(extra="forbid")

    entries: list[LabelMapItem] = Field(max_length=20_000)


class LabelMapEntryPublic(BaseModel):
    label: str
    taxon_id: uuid.UUID
    scientific_name: str
    rank: str


class LabelMapPublic(BaseModel):
    project_id: uuid.UUID
    model_name: str
    entries: list[LabelMapEntryPublic]
    updated_at: datetime | None


class ProjectTaxaUpdate(BaseModel):
    """The whole list of taxa the project expects; taxa left out are removed from it."""

    model_config = ConfigDict(extra="forbid")

    taxon_ids: list[uuid.UUID] = Field(max_length=50_000)


class ProjectTaxaPublic(BaseModel):
    project_id: uuid.UUID
    taxa: list[TaxonSummary]


class UnresolvedName(BaseModel):
    name: str
    # Observations of the project that carry the name and no taxon.
    observations: int


class UnresolvedNames(BaseModel):
    """The names the project's imports could not link to a taxon."""

    project_id: uuid.UUID
    items: list[UnresolvedName]


class NameMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taxon_id: uuid.UUID


class NameMapped(BaseModel):
    name: str
    taxon_id: uuid.UUID
    scientific_name: str
    # Past observations now linked to the taxon.
    observations_relinked: int
