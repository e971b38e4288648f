from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class Taxon(CatalogueTable, table=True):
    """A node of the global taxon tree."""

    __tablename__ = "taxa"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # The taxonID of the imported Darwin Core file: imports upsert by it.
    external_id: str = Field(max_length=200, unique=True)
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="taxa.id", index=True)
    rank: str = Field(max_length=30, index=True)
    scientific_name: str = Field(max_length=300, index=True)
    authorship: str = Field(default="", max_length=300)
    # Language code → name ({"en": "Grey heron", "nl": "Blauwe reiger"}).
    vernacular_names: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    # Lower-cased scientific and vernacular names, so one LIKE searches them on every database
    # (SQLite's LIKE folds ASCII only, and JSON columns are not searchable portably).
    search_text: str = Field(default="", max_length=2000)
    gbif_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    worms_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    # Darwin Core taxonomicStatus: accepted, synonym, doubtful, ...
    taxonomic_status: str = Field(default="accepted", max_length=30)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

    def refresh_search_text(self) -> None:
        names = [self.scientific_name, *self.vernacular_names.values()]
        self.search_text = "|".join(n.strip().lower() for n in names if n.strip())[:2000]

    def fields(self) -> dict[str, Any]:
        """What an import compares to decide whether the taxon changed."""
        return {
            "parent_id": self.parent_id,
            "rank": self.rank,
            "scientific_name": self.scientific_name,
            "authorship": self.authorship,
            "vernacular_names": self.vernacular_names,
            "gbif_id": self.gbif_id,
            "worms_id": self.worms_id,
            "taxonomic_status": self.taxonomic_status,
        }


class LabelMapEntry(CatalogueTable, table=True):
    """One model label → one taxon, in one project; overrides the model bundle's own names."""

    __tablename__ = "label_map_entries"

    project_id: uuid.UUID = Field(foreign_key="projects.id", primary_key=True, ondelete="CASCADE")
    model_name: str = Field(max_length=200, primary_key=True)
    label: str = Field(max_length=200, primary_key=True)
    taxon_id: uuid.UUID = Field(foreign_key="taxa.id", index=True)
    updated_by: str = Field(default="", max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ProjectTaxon(CatalogueTable, table=True):
    """A taxon the project expects to see; predictions can be restricted to these."""

    __tablename__ = "project_taxa"

    project_id: uuid.UUID = Field(foreign_key="projects.id", primary_key=True, ondelete="CASCADE")
    taxon_id: uuid.UUID = Field(foreign_key="taxa.id", primary_key=True, index=True)
    added_by: str = Field(default="", max_length=200)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
