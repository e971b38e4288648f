"""A project's privacy settings and its sensitive taxa."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow

# 0.1° (about 11 km north-south): what GBIF's guide suggests for most sensitive species.
DEFAULT_PRECISION = 0.1


class ProjectPrivacy(CatalogueTable, table=True):
    """A project's privacy settings; a project without a row has the defaults."""

    __tablename__ = "project_privacy"

    project_id: uuid.UUID = Field(foreign_key="projects.id", primary_key=True, ondelete="CASCADE")
    # Decimal degrees sensitive coordinates are generalised to.
    coordinate_precision: float = DEFAULT_PRECISION
    # Media with people are hidden from volunteers and left out of public exports.
    hide_people: bool = False
    updated_by: str = Field(default="", max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SensitiveTaxon(CatalogueTable, table=True):
    """A taxon whose sightings (its own and every taxon below it) make a place sensitive."""

    __tablename__ = "sensitive_taxa"

    project_id: uuid.UUID = Field(foreign_key="projects.id", primary_key=True, ondelete="CASCADE")
    taxon_id: uuid.UUID = Field(foreign_key="taxa.id", primary_key=True, index=True)
    added_by: str = Field(default="", max_length=200)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
